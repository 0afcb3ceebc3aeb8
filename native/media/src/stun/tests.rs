//! RFC 5769 test vectors and round trips.
use super::*;

const PWD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";
const TID: [u8; 12] = [0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae];

/// RFC 5769 2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MI, FINGERPRINT).
const REQUEST: [u8; 108] = [
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
    0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
    0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
];

/// RFC 5769 2.2: IPv4 success response (192.0.2.1:32853).
const RESPONSE_V4: [u8; 80] = [
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08,
    0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
];

/// RFC 5769 2.3: IPv6 success response (2001:db8:1234:5678:11:2233:4455:6677 port 32853).
const RESPONSE_V6: [u8; 92] = [
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14,
    0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
    0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
];

#[test]
fn rfc5769_request() {
    let m = Message::parse(&REQUEST).unwrap();
    assert_eq!(m.method, BINDING);
    assert_eq!(m.class, Class::Request);
    assert_eq!(m.transaction_id, TID);
    assert_eq!(m.username, Some(&b"evtj:h6vY"[..]));
    assert_eq!(m.priority, Some(0x6e0001ff));
    assert_eq!(m.ice_controlled, Some(0x932ff9b151263b36));
    assert_eq!(m.ice_controlling, None);
    assert!(!m.use_candidate);
    assert!(m.verify_integrity(PWD));
    assert!(!m.verify_integrity(b"VOkJxbRl1RmTxUk/WvJxBu"));
    assert_eq!(m.verify_fingerprint(), Some(true));
}

#[test]
fn rfc5769_responses() {
    let m = Message::parse(&RESPONSE_V4).unwrap();
    assert_eq!(m.class, Class::Success);
    assert_eq!(m.xor_mapped_address, Some("192.0.2.1:32853".parse().unwrap()));
    assert!(m.verify_integrity(PWD));
    assert_eq!(m.verify_fingerprint(), Some(true));
    let m = Message::parse(&RESPONSE_V6).unwrap();
    assert_eq!(m.xor_mapped_address, Some("[2001:db8:1234:5678:11:2233:4455:6677]:32853".parse().unwrap()));
    assert!(m.verify_integrity(PWD));
    assert_eq!(m.verify_fingerprint(), Some(true));
}

/// Our serializer reproduces the vectors byte for byte (same attributes, same order).
#[test]
fn builder_reproduces_rfc5769() {
    let req = Builder::new(BINDING, Class::Request, &TID)
        .attribute(attr::SOFTWARE, b"STUN test client")
        .priority(0x6e0001ff)
        .ice_controlled(0x932ff9b151263b36)
        .username("evtj:h6vY");
    // The RFC pads USERNAME with spaces; padding is not covered by meaning,
    // but it is by the MAC: patch it to compare whole messages.
    let mut req = req;
    let n = req.buf.len();
    req.buf[n - 3..].copy_from_slice(b"   ");
    assert_eq!(req.finish(Some(PWD)), REQUEST.to_vec());
    let mut resp = Builder::new(BINDING, Class::Success, &TID).attribute(attr::SOFTWARE, b"test vector");
    let n = resp.buf.len();
    resp.buf[n - 1] = 0x20;
    let resp = resp.xor_mapped_address("192.0.2.1:32853".parse().unwrap());
    assert_eq!(resp.finish(Some(PWD)), RESPONSE_V4.to_vec());
}

#[test]
fn tampering_is_detected() {
    let mut bad_fp = REQUEST;
    bad_fp[107] ^= 1;
    let m = Message::parse(&bad_fp).unwrap();
    assert_eq!(m.verify_fingerprint(), Some(false));
    assert!(m.verify_integrity(PWD), "FINGERPRINT is outside the MAC");
    let mut bad_body = REQUEST;
    bad_body[47] ^= 1; // PRIORITY value
    let m = Message::parse(&bad_body).unwrap();
    assert!(!m.verify_integrity(PWD));
    assert_eq!(m.verify_fingerprint(), Some(false));
}

#[test]
fn round_trip_with_error_code_and_flags() {
    let tid = [7u8; 12];
    let b = Builder::new(BINDING, Class::Request, &tid)
        .username("abcd:efgh")
        .priority(1234)
        .use_candidate()
        .ice_controlling(42)
        .finish(Some(b"pass"));
    let m = Message::parse(&b).unwrap();
    assert!(m.use_candidate);
    assert_eq!(m.ice_controlling, Some(42));
    assert!(m.verify_integrity(b"pass"));
    assert_eq!(m.verify_fingerprint(), Some(true));
    let e = Builder::new(BINDING, Class::Error, &tid).error_code(401, "Unauthorized").finish(None);
    let m = Message::parse(&e).unwrap();
    assert_eq!(m.class, Class::Error);
    assert_eq!(m.error_code, Some((401, "Unauthorized")));
    assert!(!m.has_integrity());
    assert!(!m.verify_integrity(b"pass"));
    let v6: SocketAddr = "[::1]:5000".parse().unwrap();
    let r = Builder::new(BINDING, Class::Success, &tid).xor_mapped_address(v6).finish(None);
    assert_eq!(Message::parse(&r).unwrap().xor_mapped_address, Some(v6));
}

#[test]
fn malformed_input_is_rejected_without_panic() {
    assert_eq!(Message::parse(&REQUEST[..19]).unwrap_err(), StunError::Malformed);
    assert_eq!(Message::parse(&REQUEST[..100]).unwrap_err(), StunError::Malformed); // length mismatch
    let mut no_cookie = REQUEST;
    no_cookie[4] = 0;
    assert_eq!(Message::parse(&no_cookie).unwrap_err(), StunError::NotStun);
    let mut attr_overrun = REQUEST;
    attr_overrun[22] = 0xff; // SOFTWARE length beyond the message
    assert_eq!(Message::parse(&attr_overrun).unwrap_err(), StunError::Malformed);
    // Something after FINGERPRINT.
    let mut after = REQUEST.to_vec();
    after.extend_from_slice(&[0x80, 0x22, 0, 0]);
    after[3] += 4;
    assert_eq!(Message::parse(&after).unwrap_err(), StunError::Malformed);
    // Every truncation and single-byte corruption parses or fails cleanly.
    for i in 0..REQUEST.len() {
        let _ = Message::parse(&REQUEST[..i]);
        for bit in 0..8 {
            let mut c = REQUEST;
            c[i] ^= 1 << bit;
            if let Ok(m) = Message::parse(&c) {
                let _ = (m.verify_integrity(PWD), m.verify_fingerprint());
            }
        }
    }
}

#[test]
fn unknown_comprehension_required_attribute_is_reported() {
    let b = Builder::new(BINDING, Class::Request, &[1; 12]).attribute(0x7777, b"x").finish(None);
    assert_eq!(Message::parse(&b).unwrap().unknown_required, Some(0x7777));
    let b = Builder::new(BINDING, Class::Request, &[1; 12]).attribute(0xC001, b"x").finish(None);
    assert_eq!(Message::parse(&b).unwrap().unknown_required, None);
}
