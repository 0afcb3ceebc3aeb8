/**
 * SDP for DTLS-SRTP <-> RTP / SDES-SRTP interworking. Pure functions (no I/O;
 * the only side effect is crypto.randomBytes for SBC SDES keys).
 *
 * Flow in the B2BUA (leg A = caller, leg B = callee):
 *
 *   const offerA = parseSdp(invite.body);                           // SdpError 400
 *   let planA = planAnswer(offerA, realmA.policy, realmA.answerOpts); // SdpError 488 (policy, DTLS, SDES, codecs)
 *   let planB = planOffer(offerA, resolveSecurity(realmB.policy, planA.security), realmB.offerOpts);
 *   const p = engine.createPipeline({ a: legSpecFor(planA, offerA), b: legSpecFor(planB) });
 *   const offerB = buildOffer(offerA, planB, p.local.b, originB);  // -> INVITE to callee; keep offerB.origin
 *   ...200 OK from callee:
 *   const answerB = parseSdp(res.body);
 *   planB = applyAnswer(answerB, planB);                            // SdpError 488
 *   await p.update('b', legUpdateFor(planB, answerB));
 *   const answerA = buildAnswer(offerA, answerB, planA, p.local.a, originA); // -> 200 OK to caller
 *
 * Re-INVITE from either side: the same with roles swapped as needed, passing
 * the leg's last plan as `previous` to planAnswer/planOffer, and the leg's
 * stored SdpOrigin to build*. Keep the `origin` each build returns.
 *
 * Choices:
 * - Fingerprints and a=setup are scanned from the text: sdp-transform turns
 *   "a=fingerprint: SHA-1 49:27:..." (space after the colon) into an empty
 *   value and keeps only the last of several lines. Media level replaces
 *   session level. Hash names are lower-cased, values upper-cased; lines with
 *   an unknown hash or a wrong length are ignored (only-unusable -> 488).
 * - The SBC's fingerprint toward a DTLS peer uses the strongest supported hash
 *   the peer itself used (fingerprintHashFor / plan.fingerprintHash); sha-256
 *   in offers. The LocalLeg passed to build* must carry that hash
 *   (LegSpec.fingerprintHash asks the engine for it; Pipeline.fingerprint(h)
 *   otherwise).
 * - DTLS roles: offer actpass -> SBC 'passive' (AnswerOptions.actpassAnswer);
 *   active -> passive; passive -> active; holdconn or missing setup -> 488.
 *   An actpass re-offer keeps the established role (never flip on re-INVITE).
 *   The SBC offers actpass initially and its established role (active or
 *   passive) in re-offers, so the answerer cannot flip it; an answer that
 *   conflicts is 488. In an answer, actpass/holdconn -> 488 and a missing
 *   a=setup is taken as 'active' (RFC 4145 default; RFC 5763 requires it).
 *   Before the answer to an actpass offer, legSpecFor gives role 'passive'
 *   with no fingerprints; legUpdateFor after applyAnswer fixes both.
 * - Old-style hold (c=IN IP4 0.0.0.0) is reported as oldStyleHold; without a
 *   direction attribute it means 'inactive' (the common SBC mapping; an explicit
 *   attribute wins). Built SDP never carries 0.0.0.0: always the SBC's address
 *   with the direction attribute. legSpecFor/legUpdateFor omit the remote
 *   address then, so the engine keeps the previous destination.
 * - Directions pass through: the offer carries the offerer's direction, the
 *   answer the answerer's narrowed to what the offer allows (RFC 3264 6.1).
 * - Only the first active audio m-line is relayed; every other m-line keeps
 *   its slot with port 0 (offers: same kind/formats; answers: one per offered
 *   m-line, echoing the offer's a=mid). ICE, candidates, ssrc, msid, extmap,
 *   BUNDLE groups and the other side's o=/c=/ports/fingerprints/keys are never
 *   copied. rtcp-fb and rtcp-rsize are kept only on AVPF protocols.
 * - WebRTC-style legs (ICE-lite, RFC 8445/8839, BUNDLE RFC 9143): a DTLS-SRTP
 *   offer with a=ice-ufrag/a=ice-pwd is answered as an ICE-lite agent
 *   (AnswerOptions.ice, default on): session a=ice-lite and
 *   a=group:BUNDLE <audio mid> (when the offer bundled it), the SBC's own
 *   ice-ufrag/ice-pwd (plan.ice.local, generated here and passed to the
 *   engine by legSpecFor/legUpdateFor), one host candidate per component at
 *   the SBC's advertised address (one with rtcp-mux), a=end-of-candidates,
 *   a=mid echoed, a=rtcp-rsize echoed with rtcp-mux. The SAVPF feedback
 *   toward the browser is what the other side answered (an RTP/AVP side
 *   answers none, so rtcp-fb is dropped consistently; nothing is terminated).
 *   New remote credentials in a re-offer are an ICE restart: the SBC answers
 *   new credentials of its own; same role and fingerprint keep the DTLS
 *   association. c=0.0.0.0 with ICE is not hold. OfferOptions.ice offers
 *   ICE-lite toward a WebRTC realm (the answer must carry ICE, else 488).
 *   The other leg never sees ICE: plain RTP/AVP (or its realm's security).
 * - Codecs and WebRTC: the browser's codecs (opus first) are offered to the
 *   other side as they are; opus survives only if that side answers it,
 *   else its PCMU/PCMA choice goes back to the browser; no common media
 *   codec is a 488 "no common codec".
 * - AVPF toward an offered leg: OfferOptions.avpf 'strip' (default) / 'keep'
 *   / 'always'. Answers always echo the offered protocol.
 * - Codecs are not transcoded: offers carry the offerer's codecs in order;
 *   answers carry the answerer's codecs (matched by name/rate, payload types
 *   as the answerer wrote them) in its order. Only DTMF/CN left -> 488.
 * - SDES: the SBC answers the first offered a=crypto (offerer's order) whose
 *   suite is enabled and usable, under the same tag; it offers one key per
 *   suite (tags 1..n). Lifetime is ignored; MKI, several keys and session
 *   parameters other than WSH / FEC_ORDER=FEC_SRTP / KDR=0 make a line unusable.
 *   Keys are kept on re-INVITEs for an unchanged suite.
 * - o=: `o=- <sessionId> <version> IN IP4|IP6 <sbc address>`; the version is
 *   bumped only when the rest of the body differs from the last one built.
 */
export { SdpError } from './errors';
export { parseSdp } from './parse';
export {
  activeAudioIndex,
  applyAnswer,
  fingerprintHashFor,
  planAnswer,
  planOffer,
  protocolFor,
  resolveSecurity,
  usableFingerprints,
} from './negotiate';
export { answerDirection, buildAnswer, buildOffer, createOrigin } from './build';
export { legSpecFor, legUpdateFor } from './leg';
export { generateIceCredentials } from './ice';
export { generateSdesKey, generateSdesKeys, parseCrypto, SDES_KEY_BYTES, SDES_SUITES } from './sdes';
export type * from './types';
