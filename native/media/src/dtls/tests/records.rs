//! Hand-made DTLS 1.2 records and handshake fragments (RFC 6347 4.1, 4.2.2)
//! for hostile-input tests. Self-contained so the integration tests can
//! include it with `#[path]`.
#![allow(dead_code)]

pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;

pub const CLIENT_HELLO: u8 = 1;
pub const HELLO_VERIFY_REQUEST: u8 = 3;
pub const CERTIFICATE: u8 = 11;
pub const CERTIFICATE_VERIFY: u8 = 15;

/// One record: content type, epoch, 48-bit sequence number, payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub ty: u8,
    pub epoch: u16,
    pub seq: u64,
    pub body: Vec<u8>,
}

impl Record {
    pub fn new(ty: u8, epoch: u16, seq: u64, body: Vec<u8>) -> Record {
        Record { ty, epoch, seq, body }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.ty, 0xfe, 0xfd];
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes()[2..]);
        out.extend_from_slice(&(self.body.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// Splits a datagram into records; None when it is not whole records.
pub fn parse_records(d: &[u8]) -> Option<Vec<Record>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < d.len() {
        let h = d.get(off..off + 13)?;
        let len = u16::from_be_bytes([h[11], h[12]]) as usize;
        let body = d.get(off + 13..off + 13 + len)?.to_vec();
        let mut seq = [0u8; 8];
        seq[2..].copy_from_slice(&h[5..11]);
        out.push(Record { ty: h[0], epoch: u16::from_be_bytes([h[3], h[4]]), seq: u64::from_be_bytes(seq), body });
        off += 13 + len;
    }
    Some(out)
}

/// Concatenates records into one datagram.
pub fn datagram(records: &[Record]) -> Vec<u8> {
    records.iter().flat_map(Record::encode).collect()
}

/// A handshake message fragment: type, whole message length, message_seq,
/// and the bytes at `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub msg_type: u8,
    pub msg_len: u32,
    pub msg_seq: u16,
    pub offset: u32,
    pub data: Vec<u8>,
}

impl Fragment {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.msg_type];
        out.extend_from_slice(&self.msg_len.to_be_bytes()[1..]);
        out.extend_from_slice(&self.msg_seq.to_be_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes()[1..]);
        out.extend_from_slice(&(self.data.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&self.data);
        out
    }

    /// The part `[from, to)` of this (whole) message as a new fragment.
    pub fn slice(&self, from: usize, to: usize) -> Fragment {
        Fragment { offset: self.offset + from as u32, data: self.data[from..to].to_vec(), ..self.clone() }
    }

    pub fn is_whole(&self) -> bool {
        self.offset == 0 && self.data.len() == self.msg_len as usize
    }
}

fn u24(b: &[u8]) -> u32 {
    u32::from_be_bytes([0, b[0], b[1], b[2]])
}

/// The handshake fragments in a plaintext (epoch 0) handshake record.
pub fn parse_fragments(body: &[u8]) -> Option<Vec<Fragment>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < body.len() {
        let h = body.get(off..off + 12)?;
        let len = u24(&h[9..12]) as usize;
        let data = body.get(off + 12..off + 12 + len)?.to_vec();
        out.push(Fragment {
            msg_type: h[0],
            msg_len: u24(&h[1..4]),
            msg_seq: u16::from_be_bytes([h[4], h[5]]),
            offset: u24(&h[6..9]),
            data,
        });
        off += 12 + len;
    }
    Some(out)
}

/// Renumbers every epoch-0 record one side sends, so that tests can add,
/// split and reorder plaintext records without tripping the receiver's
/// replay window. Encrypted records keep their numbers (they are MACed).
#[derive(Default)]
pub struct Renumber {
    next: u64,
}

impl Renumber {
    pub fn fresh(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    pub fn record(&mut self, ty: u8, body: Vec<u8>) -> Record {
        Record::new(ty, 0, self.fresh(), body)
    }

    pub fn fragment(&mut self, f: &Fragment) -> Record {
        self.record(HANDSHAKE, f.encode())
    }
}

/// Every record of a flight, in order.
pub fn flight_records(flight: &[Vec<u8>]) -> Vec<Record> {
    flight.iter().flat_map(|d| parse_records(d).expect("whole DTLS records")).collect()
}

/// Every handshake fragment of the flight's plaintext records, in order.
pub fn flight_fragments(flight: &[Vec<u8>]) -> Vec<Fragment> {
    flight_records(flight)
        .iter()
        .filter(|r| r.epoch == 0 && r.ty == HANDSHAKE)
        .flat_map(|r| parse_fragments(&r.body).expect("handshake fragments"))
        .collect()
}

/// Deterministic shuffle (xorshift), so failures reproduce.
pub fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}
