//! RFC 4475 (SIP torture test messages) as test vectors, written out from
//! the RFC text. Valid messages must parse and validate; invalid ones must
//! be rejected (answered 400/505 or dropped) by the engine, which must not
//! panic or keep state. `{CL}` is replaced by the body length for messages
//! whose Content-Length is correct in the RFC.

use esbc_sip::config::{Config, Proto};
use esbc_sip::engine::{Engine, Listener, Output};
use esbc_sip::sip::parse::parse_and_validate;
use esbc_sip::txn::Peer;
use std::time::{Duration, Instant};

fn msg(text: &str) -> Vec<u8> {
    // Vectors are written with \n line ends; SIP wants CRLF.
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let (head, body) = crlf.split_once("\r\n\r\n").unwrap_or((&crlf, ""));
    let head = head.replace("{CL}", &body.len().to_string());
    format!("{head}\r\n\r\n{body}").into_bytes()
}

const SDP: &str = "v=0\no=mhandley 29739 7272939 IN IP4 192.0.2.3\ns=-\nc=IN IP4 192.0.2.4\nt=0 0\nm=audio 49217 RTP/AVP 0 12\nm=video 3227 RTP/AVP 31\na=rtpmap:31 LPC\n";
const SDP2: &str = "v=0\no=mhandley 29739 7272939 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 49217 RTP/AVP 0\n";

fn valid() -> Vec<(&'static str, Vec<u8>)> {
    let mut v = vec![
        ("3.1.1.1 wsinv", msg(&format!("INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\nTO :\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\nfrom   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\n  ;\n  tag = 98asjd8\nMaX-fOrWaRdS: 0068\nCall-ID: wsinv.ndaksdj@192.0.2.1\nContent-Length   : {{CL}}\ncseq: 0009\n  INVITE\nVia  : SIP  /   2.0\n /UDP\n    192.0.2.2;branch=390skdjuw\ns :\nNewFangledHeader:   newfangled value\n continued newfangled value\nUnknownHeaderWithUnusualValue: ;;,,;;,;\nContent-Type: application/sdp\nRoute:\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\nv:  SIP  / 2.0  / TCP     spindle.example.com   ;\n  branch  =   z9hG4bK9ikj8  ,\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\n z9hG4bK30239\nm:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\n      newvalue ;\n  secondparam ; q = 0.33\n\n{SDP}"))),
        ("3.1.1.2 intmeth", {
            let mut m = b"!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\r\nVia: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\nTo: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>\r\nFrom: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"".to_vec();
            m.extend_from_slice("работающий".as_bytes());
            m.extend_from_slice(b"\";tag=_token~1'+`*%!-.\r\nCall-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r\nCSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\nMax-Forwards: 255\r\nextensionHeader-!.%*+_`'~:");
            m.extend_from_slice("\u{feff}大停電".as_bytes());
            m.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
            m
        }),
        ("3.1.1.3 esc01", msg(&format!("INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\nTo: sip:%75se%72@example.com\nFrom: <sip:I%20have%20spaces@example.net>;tag=938\nMax-Forwards: 87\ni: esc01.239409asdfakjkn23onasd0-3234\nCSeq: 234234 INVITE\nVia: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\nC: application/sdp\nContact:\n  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\nContent-Length: {{CL}}\n\n{SDP2}"))),
        ("3.1.1.4 escnull", msg("REGISTER sip:example.com SIP/2.0\nTo: sip:null-%00-null@example.com\nFrom: sip:null-%00-null@example.com;tag=839923423\nMax-Forwards: 70\nCall-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\nCSeq: 14398234 REGISTER\nVia: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\nContact: <sip:%00@host5.example.com>\nContact: <sip:%00%00@host5.example.com>\nL:0\n\n")),
        ("3.1.1.5 esc02", msg("RE%47IST%45R sip:registrar.example.com SIP/2.0\nTo: \"%Z%45\" <sip:resource@example.com>\nFrom: \"%Z%45\" <sip:resource@example.com>;tag=f232jadfj23\nCall-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\nVia: SIP/2.0/TCP host.example.com;branch=z9hG4bK209323\nCSeq: 29344 RE%47IST%45R\nMax-Forwards: 70\nContact: <sip:alias1@host1.example.com>\nC%6Fntact: <sip:alias2@host2.example.com>\nContact: <sip:alias3@host3.example.com>\nl: 0\n\n")),
        ("3.1.1.6 lwsdisp", msg("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:user@example.com\nFrom: caller<sip:caller@example.com>;tag=323\nMax-Forwards: 70\nCall-ID: lwsdisp.1234abcd@funky.example.com\nCSeq: 60 OPTIONS\nVia: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\nl: 0\n\n")),
        ("3.1.1.7 longreq", {
            let long = "longvalue".repeat(40);
            let mut s = format!("INVITE sip:user@example.com SIP/2.0\nTo: \"I have a user name of {long} extreme proportion\"<sip:user@example.com:6000;unknownparam1=very{long}value;longparam{long}name=shortvalue;very{long}ParameterNameWithNoValue>\nF: sip:{long}@example.org;tag=12982982982{long}\nCall-ID: longreq.one{long}\nCSeq: 3882340 INVITE\nUnknown-{long}-Header: unknown-{long}-value; unknown-{long}-parameter-name = unknown-{long}-parameter-value\nVia: SIP/2.0/TCP sip33.example.com\nv: SIP/2.0/TCP sip32.example.com\n");
            for i in (1..=31).rev() {
                s.push_str(&format!("V: SIP/2.0/TCP sip{i}.example.com\n"));
            }
            s.push_str(&format!("Via: SIP/2.0/TCP sip0.example.com;branch=z9hG4bK{long}\nMax-Forwards: 70\nContact: <sip:amazinglylongcallername{long}@host5.example.net>\nContent-Type: application/sdp\nl: {{CL}}\n\n{SDP}"));
            msg(&s)
        }),
        ("3.1.1.8 dblreq", {
            let mut m = msg("REGISTER sip:example.com SIP/2.0\nTo: sip:j.user@example.com\nFrom: sip:j.user@example.com;tag=43251j3j324\nMax-Forwards: 8\nI: dblreq.0ha0isndaksdj99sdfafnl3lk233412\nContact: sip:j.user@host.example.com\nCSeq: 8 REGISTER\nVia: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\nContent-Length: 0\n\n");
            m.extend_from_slice(&msg(&format!("INVITE sip:joe@example.com SIP/2.0\nt: sip:joe@example.com\nFrom: sip:caller@example.net;tag=141334\nMax-Forwards: 8\nCall-ID: dblreq.0ha0isnda977644900765@192.0.2.15\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\nContent-Type: application/sdp\nContent-Length: {{CL}}\n\n{SDP2}")));
            m
        }),
        ("3.1.1.9 semiuri", msg("OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\nTo: sip:j_user@example.com\nFrom: sip:caller@example.org;tag=33242\nMax-Forwards: 3\nCall-ID: semiuri.0ha0isndaksdj\nCSeq: 8 OPTIONS\nAccept: application/sdp, application/pkcs7-mime,\n        multipart/mixed, multipart/signed,\n        message/sip, message/sipfrag\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\nl: 0\n\n")),
        ("3.1.1.10 transports", msg("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:user@example.com\nFrom: <sip:caller@example.com>;tag=323\nMax-Forwards: 70\nCall-ID:  transports.kijh4akdnaqjkwendsasfdj\nAccept: application/sdp\nCSeq: 60 OPTIONS\nVia: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\nVia: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\nVia: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\nVia: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\nVia: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\nl: 0\n\n")),
        ("3.1.1.11 mpart01", msg("MESSAGE sip:kumiko@example.org SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport\nMax-Forwards: 70\nRoute: <sip:127.0.0.1:5080>\nIdentity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=\nContact: <sip:fluffy@127.0.0.1:5070>\nTo: <sip:kumiko@example.org>\nFrom: <sip:fluffy@example.com>;tag=2fb0dcc9\nCall-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..\nCSeq: 1 MESSAGE\nContent-Transfer-Encoding: binary\nContent-Type: multipart/mixed;boundary=7a9cbec02ceef655\nDate: Sat, 15 Oct 2005 04:44:56 GMT\nUser-Agent: SIPimp.org/0.2.5 (curses)\nContent-Length: {CL}\n\n--7a9cbec02ceef655\nContent-Type: text/plain\nContent-Transfer-Encoding: binary\n\nHello\n--7a9cbec02ceef655\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n0\x01\x02binarystuff\n--7a9cbec02ceef655--\n")),
        ("3.1.1.12 unreason", msg(&format!("SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое\nVia: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\nCall-ID: unreason.1234ksdfak3j2erwedfsASdf\nCSeq: 35 INVITE\nFrom: sip:user@example.com;tag=11141343\nTo: sip:user@example.edu;tag=2229\nContent-Length: {{CL}}\nContent-Type: application/sdp\nContact: <sip:user@host198.example.com>\n\n{SDP2}"))),
        ("3.1.1.13 noreason", msg("SIP/2.0 100 \nVia: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\nCall-ID: noreason.asndj203insdf99223ndf\nCSeq: 35 INVITE\nFrom: <sip:user@example.com>;tag=39ansfi3\nTo: <sip:user@example.edu>;tag=902jndnke3\nContent-Length: 0\nContact: <sip:user@host105.example.com>\n\n")),
        ("3.2.1 badbranch", msg("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.org;tag=33242\nMax-Forwards: 3\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\nAccept: application/sdp\nCall-ID: badbranch.sadonfo23i420jv0as0derf3j3n\nCSeq: 8 OPTIONS\nl: 0\n\n")),
        ("3.3.2 unkscm", msg("OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=384\nMax-Forwards: 3\nCall-ID: unkscm.nasdfasser0q239nwsdfasdkl34\nCSeq: 3923423 OPTIONS\nVia: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\nContent-Length: 0\n\n")),
        ("3.3.3 novelsc", msg("OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=384\nMax-Forwards: 3\nCall-ID: novelsc.asdfasser0q239nwsdfasdkl34\nCSeq: 3923423 OPTIONS\nVia: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\nContent-Length: 0\n\n")),
        ("3.3.4 unksm2", msg("REGISTER sip:example.com SIP/2.0\nTo: isbn:2983792873\nFrom: <http://www.example.com>;tag=3234233\nCall-ID: unksm2.daksdj@hyphenated-host.example.com\nCSeq: 234902 REGISTER\nMax-Forwards: 70\nVia: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw\nContact: <name:John_Smith>\nl: 0\n\n")),
        ("3.3.5 bext01", msg("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:j_user@example.com\nFrom: sip:caller@example.net;tag=242etr\nMax-Forwards: 6\nCall-ID: bext01.0ha0isndaksdj\nRequire: nothingSupportsThis, nothingSupportsThisEither\nProxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis\nCSeq: 8 OPTIONS\nVia: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw\nContent-Length: 0\n\n")),
        ("3.3.6 invut", msg("INVITE sip:user@example.com SIP/2.0\nContact: <sip:caller@host5.example.net>\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=8392034\nMax-Forwards: 70\nCall-ID: invut.0ha0isndaksdjadsfij34n23d\nCSeq: 235448 INVITE\nVia: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw\nContent-Type: application/unknownformat\nContent-Length: {CL}\n\n<audio>\n <pcmu port=\"443\"/>\n</audio>\n")),
        ("3.3.7 regaut01", msg("REGISTER sip:example.com SIP/2.0\nTo: sip:j.user@example.com\nFrom: sip:j.user@example.com;tag=87321hj23128\nMax-Forwards: 8\nCall-ID: regaut01.0ha0isndaksdj\nCSeq: 9338 REGISTER\nVia: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw\nAuthorization: NoOneKnowsThisScheme opaque-data=here\nContent-Length:0\n\n")),
        ("3.3.10 bcast", msg("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\nVia: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\nCall-ID: bcast.0384840201234ksdfak3j2erwedfsASdf\nCSeq: 35 INVITE\nFrom: sip:user@example.com;tag=11141343\nTo: sip:user@example.edu;tag=2229\nContent-Length: {CL}\nContent-Type: application/sdp\nContact: <sip:user@host28.example.com>\n\nv=0\no=mhandley 29739 7272939 IN IP4 192.0.2.198\ns=-\nc=IN IP4 192.0.2.198\nt=0 0\nm=audio 49217 RTP/AVP 0 12\nm=video 3227 RTP/AVP 31\na=rtpmap:31 LPC\n")),
        ("3.3.11 zeromf", msg(&format!("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=3ghsd41\nCall-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas\nCSeq: 39234321 OPTIONS\nVia: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i\nMax-Forwards: 0\nContent-Length: 0\n\n"))),
        ("3.3.12 cparam01", msg("REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\nMax-Forwards: 70\nFrom: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe\nTo: sip:watson@example.com\nCall-ID: cparam01.70710@saturn.example.com\nCSeq: 2 REGISTER\nContact: sip:+19725552222@gw1.example.net;unknownparam\nl: 0\n\n")),
        ("3.3.13 cparam02", msg("REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\nMax-Forwards: 70\nFrom: sip:watson@example.com;tag=838293\nTo: sip:watson@example.com\nCall-ID: cparam02.70710@saturn.example.com\nCSeq: 3 REGISTER\nContact: <sip:+19725552222@gw1.example.net;unknownparam>\nl: 0\n\n")),
        ("3.3.14 regescrt", msg("REGISTER sip:example.com SIP/2.0\nTo: sip:user@example.com\nFrom: sip:user@example.com;tag=8\nMax-Forwards: 70\nVia: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\nCall-ID: regescrt.k345asrl3fdbv@192.0.2.1\nCSeq: 14398234 REGISTER\nContact: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>\nl: 0\n\n")),
        ("3.3.15 sdp01", msg(&format!("INVITE sip:user@example.com SIP/2.0\nTo: sip:j_user@example.com\nContact: <sip:caller@host15.example.net>\nFrom: sip:caller@example.net;tag=234\nMax-Forwards: 5\nCall-ID: sdp01.ndaksdj9342dasdd\nAccept: text/nobodyKnowsThis\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP 60.63.64.65;branch=z9hG4bKkdjuw\nContent-Length: {{CL}}\nContent-Type: application/sdp\n\n{SDP2}"))),
        ("3.4.1 inv2543", msg("INVITE sip:UserB@example.com SIP/2.0\nVia: SIP/2.0/UDP iftgw.example.com\nFrom: <sip:+13035551111@ift.here.example.com;user=phone>\nRecord-Route: <sip:UserB@example.com;maddr=ss1.example.com>\nTo: sip:+16505552222@ss1.example.net;user=phone\nCall-ID: inv2543.1717@ift.here.example.com\nCSeq: 56 INVITE\nContent-Type: application/sdp\nContent-Length: {CL}\n\nv=0\no=mhandley 29739 7272939 IN IP4 192.0.2.5\ns=-\nc=IN IP4 192.0.2.5\nt=0 0\nm=audio 49217 RTP/AVP 0\n")),
    ];
    v.push(("3.3.9 (valid control) single values", msg("OPTIONS sip:user@example.com SIP/2.0\nVia: SIP/2.0/UDP host.example.com;branch=z9hG4bKok\nMax-Forwards: 70\nFrom: sip:caller@example.com;tag=1\nTo: sip:user@example.com\nCall-ID: ok1\nCSeq: 1 OPTIONS\nl: 0\n\n")));
    v
}

fn invalid() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("3.1.2.1 badinv01", msg(&format!("INVITE sip:user@example.com SIP/2.0\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=134161461246\nMax-Forwards: 7\nCall-ID: badinv01.0ha0isndaksdjasdf3234nas\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP 192.0.2.15;;,;,,\nContact: \"Joe\" <sip:joe@example.org>;;;;\nContent-Length: {{CL}}\nContent-Type: application/sdp\n\n{SDP2}"))),
        ("3.1.2.2 clerr", msg(&format!("INVITE sip:user@example.com SIP/2.0\nMax-Forwards: 80\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=93942939o2\nContact: <sip:caller@hungry.example.net>\nCall-ID: clerr.0ha0isndaksdjweiafasdk3\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\nContent-Type: application/sdp\nContent-Length: 9999\n\n{SDP2}"))),
        ("3.1.2.3 ncl", msg(&format!("INVITE sip:user@example.com SIP/2.0\nMax-Forwards: 254\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=32394234\nCall-ID: ncl.0ha0isndaksdj2193423r542w35\nCSeq: 0 INVITE\nVia: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw\nContact: <sip:caller@example53.example.net>\nContent-Type: application/sdp\nContent-Length: -999\n\n{SDP2}"))),
        ("3.1.2.4 scalar02", msg("REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\nTo: <sip:user@example.com>\nFrom: <sip:user@example.com>;tag=239232jh3\nCSeq: 36893488147419103232 REGISTER\nCall-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\nMax-Forwards: 300\nExpires: 1000000000000000000000000000000000000000000\nContact: <sip:user@host129.example.com>\n  ;expires=280297596632815\nContent-Length: 0\n\n")),
        ("3.1.2.5 scalarlg", msg("SIP/2.0 503 Service Unavailable\nVia: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129\nTo: <sip:user@example.com>\nFrom: <sip:other@example.net>;tag=2easdjfejw\nCSeq: 9292394834772304023312 OPTIONS\nCall-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\nRetry-After: 949302838503028349304023988\nWarning: 1812 overture \"In Progress\"\nContent-Length: 0\n\n")),
        ("3.1.2.6 quotbal", msg(&format!("INVITE sip:user@example.com SIP/2.0\nTo: \"Mr. J. User <sip:j.user@example.com>\nFrom: sip:caller@example.net;tag=93334\nMax-Forwards: 10\nCall-ID: quotbal.aksdj\nContact: <sip:caller@host59.example.net>\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\nContent-Type: application/sdp\nContent-Length: {{CL}}\n\n{SDP2}"))),
        ("3.1.2.7 ltgtruri", msg(&format!("INVITE <sip:user@example.com> SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=39291\nMax-Forwards: 23\nCall-ID: ltgtruri.1@192.0.2.5\nCSeq: 1 INVITE\nVia: SIP/2.0/UDP 192.0.2.5\nContact: <sip:caller@host5.example.net>\nContent-Type: application/sdp\nContent-Length: {{CL}}\n\n{SDP2}"))),
        ("3.1.2.8 lwsruri", msg(&format!("INVITE sip:user@example.com; lr SIP/2.0\nTo: sip:user@example.com;tag=3xfe-9921883-z9f\nFrom: sip:caller@example.net;tag=231413434\nMax-Forwards: 5\nCall-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423\nCSeq: 2130706432 INVITE\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395\nContact: <sip:caller@host1.example.net>\nContent-Type: application/sdp\nContent-Length: {{CL}}\n\n{SDP2}"))),
        ("3.1.2.9 lwsstart", msg(&format!("INVITE  sip:user@example.com  SIP/2.0\nMax-Forwards: 8\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=8814\nCall-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com\nCSeq: 1893884 INVITE\nVia: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923\nContact: <sip:caller@host1.example.net>\nContent-Type: application/sdp\nContent-Length: {{CL}}\n\n{SDP2}"))),
        ("3.1.2.10 trws", msg("OPTIONS sip:remote-target@example.com SIP/2.0  \nVia: SIP/2.0/TCP host1.example.com;branch=z9hG4bK299342093\nTo: <sip:remote-target@example.com>\nFrom: <sip:local-resource@example.com>;tag=329429089\nCall-ID: trws.oicu34958239neffasdhr2345r\nAccept: application/sdp\nCSeq: 238923 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n")),
        ("3.1.2.11 escruri", msg("INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=341518\nMax-Forwards: 7\nContact: <sip:caller@host39923.example.net>\nCall-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5\nCSeq: 149209342 INVITE\nVia: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw\nContent-Type: application/sdp\nContent-Length: 0\n\n")),
        ("3.1.2.12 baddate", msg(&format!("INVITE sip:user@example.com SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=2234923\nMax-Forwards: 70\nCall-ID: baddate.239423mnsadf3j23lj42--sedfnm234\nCSeq: 1392934 INVITE\nVia: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\nDate: Fri, 01 Jan 2010 16:00:00 EST\nContact: <sip:caller@host5.example.net>\nContent-Type: application/sdp\nContent-Length: {{CL}}\n\n{SDP2}"))),
        ("3.1.2.13 regbadct", msg("REGISTER sip:example.com SIP/2.0\nTo: sip:user@example.com\nFrom: sip:user@example.com;tag=998332\nMax-Forwards: 70\nVia: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\nCall-ID: regbadct.k345asrl3fdbv@10.0.0.1\nCSeq: 1 REGISTER\nContact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\nl: 0\n\n")),
        ("3.1.2.14 badaspec", msg("OPTIONS sip:user@example.org SIP/2.0\nVia: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\nMax-Forwards: 70\nFrom: \"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=433423\nTo: \"Watson, Thomas\" < sip:t.watson@example.org >\nCall-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\nAccept: application/sdp\nCSeq: 3923239 OPTIONS\nl: 0\n\n")),
        ("3.1.2.15 baddn", msg("OPTIONS sip:t.watson@example.org SIP/2.0\nVia:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\nMax-Forwards:      70\nFrom:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\nTo:      Watson, Thomas <sip:t.watson@example.org>\nCall-ID: baddn.31415@c.example.com\nAccept: application/sdp\nCSeq:    3923239 OPTIONS\nl: 0\n\n")),
        ("3.1.2.16 badvers", msg("OPTIONS sip:t.watson@example.org SIP/7.0\nVia:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\nMax-Forwards:     70\nFrom:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\nTo:      T. Watson <sip:t.watson@example.org>\nCall-ID: badvers.31417@c.example.com\nCSeq:    1 OPTIONS\nl: 0\n\n")),
        ("3.1.2.17 mismatch01", msg("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=34525\nMax-Forwards: 6\nCall-ID: mismatch01.dj0234sxdfl3\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\nl: 0\n\n")),
        ("3.1.2.18 mismatch02", msg("NEWMETHOD sip:user@example.com SIP/2.0\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=34525\nMax-Forwards: 6\nCall-ID: mismatch02.dj0234sxdfl3\nCSeq: 8 INVITE\nContact: <sip:caller@host.example.net>\nVia: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw\nContent-Type: application/sdp\nl: 0\n\n")),
        ("3.1.2.19 bigcode", msg("SIP/2.0 4294967301 better not break the receiver\nVia: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\nCall-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\nCSeq: 353494 INVITE\nFrom: <sip:user@example.com>;tag=39ansfi3\nTo: <sip:user@example.edu>;tag=902jndnke3\nContent-Length: 0\nContact: <sip:user@host105.example.com>\n\n")),
        ("3.3.1 insuf", msg("INVITE sip:user@example.com SIP/2.0\nCSeq: 193942 INVITE\nVia: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\nContent-Type: application/sdp\nl: 0\n\n")),
        ("3.3.8 multi01", msg(&format!("INVITE sip:user@company.com SIP/2.0\nContact: <sip:caller@host25.example.net>\nVia: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\nMax-Forwards: 70\nCSeq: 5 INVITE\nCall-ID: multi01.98asdh@192.0.2.1\nCSeq: 59 INVITE\nCall-ID: multi01.98asdh@192.0.2.2\nFrom: sip:caller@example.com;tag=3413415\nTo: sip:user@example.com\nTo: sip:other@example.net\nFrom: sip:caller@example.net;tag=2923420123\nContent-Type: application/sdp\nl: {{CL}}\nContact: <sip:caller@host36.example.net>\nMax-Forwards: 5\n\n{SDP2}"))),
        ("3.3.9 mcl01", msg("OPTIONS sip:user@example.com SIP/2.0\nVia: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\nTo: sip:user@example.com\nFrom: sip:other@example.net;tag=3923942\nCall-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\nCSeq: 15932 OPTIONS\nContent-Length: 13\nMax-Forwards: 60\nContent-Length: 5\nContent-Type: text/plain\n\nThere's no way to know how many octets are supposed to be here.\n")),
    ]
}

fn engine() -> Engine {
    let cfg = Config::from_json(r#"{"listen":[{"transport":"udp","address":"127.0.0.1","port":5060}],"control":{"secret":"s"},"timers":{"t1Ms":10,"t2Ms":40,"t4Ms":50}}"#).unwrap();
    let addr = "127.0.0.1:5060".parse().unwrap();
    Engine::new(&cfg, vec![Listener { proto: Proto::Udp, addr }])
}

fn peer() -> Peer {
    Peer { proto: Proto::Udp, addr: "127.0.0.1:5999".parse().unwrap(), conn: None, local: "127.0.0.1:5060".parse().unwrap() }
}

fn responses(out: &[Output]) -> Vec<u16> {
    out.iter()
        .filter_map(|o| match o {
            Output::Sip { data, .. } => std::str::from_utf8(&data[8..11]).ok().and_then(|c| c.parse().ok()),
            _ => None,
        })
        .collect()
}

#[test]
fn valid_messages_are_accepted() {
    for (name, m) in valid() {
        if let Err((_, code, reason)) = parse_and_validate(&m, 65535) {
            panic!("{name}: rejected with {code} {reason}");
        }
    }
}

#[test]
fn invalid_messages_are_rejected() {
    for (name, m) in invalid() {
        assert!(parse_and_validate(&m, 65535).is_err(), "{name}: accepted");
    }
}

#[test]
fn engine_answers_or_drops_and_keeps_no_state() {
    let mut e = engine();
    let now = Instant::now();
    for (name, m) in invalid() {
        e.on_sip(now, &m, peer());
        let out = e.drain();
        for code in responses(&out) {
            assert!(code == 400 || (code == 505 && name.contains("badvers")), "{name}: answered {code}");
        }
    }
    assert_eq!(e.counts(), (0, 0, 0), "invalid input created state");
    for (_, m) in valid() {
        e.on_sip(now, &m, peer());
    }
    let _ = e.drain();
    // Valid requests with no application get final answers; once the
    // transaction timers run out nothing is left.
    e.on_timer(now + Duration::from_secs(5));
    let _ = e.drain();
    assert_eq!(e.counts(), (0, 0, 0));
}

#[test]
fn dblreq_second_message_is_ignored() {
    let (_, m) = valid().into_iter().find(|(n, _)| n.contains("dblreq")).unwrap();
    let parsed = parse_and_validate(&m, 65535).unwrap();
    assert_eq!(parsed.method(), Some("REGISTER"));
    assert!(parsed.body.is_empty());
}

#[test]
fn wsinv_details() {
    let (_, m) = valid().into_iter().next().unwrap();
    let p = parse_and_validate(&m, 65535).unwrap();
    assert_eq!(p.values("Via").len(), 3);
    assert_eq!(p.cseq(), Some((9, "INVITE".into())));
    assert_eq!(p.get("Subject"), Some(""));
    assert_eq!(p.get("NewFangledHeader"), Some("newfangled value continued newfangled value"));
    assert_eq!(p.body.len(), 150);
}

#[test]
fn invalid_requests_with_a_usable_via_are_answered() {
    // Only responses (scalarlg, bigcode) and a request whose Via cannot be
    // read (badinv01) go unanswered; a broken request line or Content-Length
    // still gets its 400 (505 for another SIP version), as RFC 4475 asks.
    let mut e = engine();
    let now = Instant::now();
    for (name, m) in invalid() {
        e.on_sip(now, &m, peer());
        let codes = responses(&e.drain());
        let silent = ["badinv01", "scalarlg", "bigcode"].iter().any(|s| name.ends_with(s));
        let want: &[u16] = if silent { &[] } else if name.ends_with("badvers") { &[505] } else { &[400] };
        assert_eq!(codes, want, "{name}");
    }
}
