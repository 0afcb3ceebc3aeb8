/**
 * The zero-set-up configuration of `npm start`: loopback only, the embedded
 * SIP engine, and two example realms — a DTLS-SRTP side (WebRTC-style
 * endpoints) on 5060 and a plain RTP side (a PBX or carrier trunk) on 5080.
 */
export function defaultConfig(): Record<string, unknown> {
  return {
    sip: { engine: 'embedded' },
    media: { bindAddress: '127.0.0.1', portMin: 30000, portMax: 39999 },
    realms: [
      {
        name: 'secure',
        sip: { listen: [{ transport: 'udp', address: '127.0.0.1', port: 5060 }, { transport: 'tcp', address: '127.0.0.1', port: 5060 }], nextHop: 'sip:127.0.0.1:5070' },
        media: { security: 'dtls-srtp' },
      },
      {
        name: 'plain',
        sip: { listen: [{ transport: 'udp', address: '127.0.0.1', port: 5080 }, { transport: 'tcp', address: '127.0.0.1', port: 5080 }], nextHop: 'sip:127.0.0.1:5090' },
        media: { security: 'rtp' },
      },
    ],
    routes: [
      { from: 'secure', to: 'plain' },
      { from: 'plain', to: 'secure' },
    ],
  };
}
