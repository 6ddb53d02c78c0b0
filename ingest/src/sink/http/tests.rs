//! The HTTP client against a scripted server: each answer QuestDB (or what stands in front of
//! it) can give is classified by its status, not by its text.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;

use super::*;

/// What the scripted server does with every request.
#[derive(Debug, Clone)]
enum Script {
    /// Answers with this status and JSON body.
    Answer(u16, &'static str),
    /// Reads the request and closes the connection without answering.
    Close,
}

/// Serves `requests` requests with `script`, then stops; returns its address.
fn serve(script: Script, requests: usize) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        for _ in 0..requests {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut stream = reader.into_inner();
            match &script {
                Script::Answer(status, body) => {
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    stream.write_all(answer.as_bytes()).unwrap();
                }
                Script::Close => drop(stream),
            }
        }
    });
    (addr, handle)
}

/// A QuestDB stand-in answering every request by `answer(request line and headers)`, until
/// the test ends; returns its address.
pub(in crate::sink) fn serve_forever(
    answer: impl Fn(&str) -> (u16, String) + Send + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            let mut first = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                first.push_str(&line);
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let (status, body) = answer(&first);
            let mut stream = reader.into_inner();
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    addr
}

fn client(addr: &str) -> QuestDbHttp {
    let endpoint =
        QuestDbEndpoint::parse(&format!("http::addr={addr};request_timeout=3000;")).unwrap();
    QuestDbHttp::new(&endpoint).unwrap()
}

fn write_against(script: Script) -> Result<(), HttpError> {
    let (addr, server) = serve(script, 1);
    let result = client(&addr).write(b"t x=1i 1\n");
    server.join().unwrap();
    result
}

#[test]
fn a_400_is_a_refusal_with_questdbs_message_and_line() {
    let body = r#"{"code":"invalid","message":"failed to parse line protocol:errors encountered on line(s):\nerror in line 2: table: t, column: n; cast error from protocol type: FLOAT to column type: LONG","line":2,"errorId":"c6bc-1"}"#;
    match write_against(Script::Answer(400, body)) {
        Err(HttpError::Refused { message, line }) => {
            assert_eq!(line, Some(2));
            assert!(
                message.starts_with("HTTP 400: failed to parse line protocol"),
                "{message}"
            );
            assert!(
                message.contains("cast error from protocol type: FLOAT to column type: LONG"),
                "{message}"
            );
            assert!(message.contains("errorId=c6bc-1"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_413_is_too_large() {
    let body = r#"{"code":"request too large","message":"transaction is too large","line":1,"errorId":"x-2"}"#;
    assert!(matches!(
        write_against(Script::Answer(413, body)),
        Err(HttpError::TooLarge(m)) if m.contains("transaction is too large")
    ));
}

#[test]
fn rejected_credentials_are_a_configuration_error() {
    for status in [401, 403] {
        let result = write_against(Script::Answer(status, r#"{"code":"unauthorised"}"#));
        assert!(
            matches!(&result, Err(HttpError::Misconfigured(m)) if m.starts_with(&format!("HTTP {status}"))),
            "{status}: {result:?}"
        );
    }
}

#[test]
fn server_errors_and_a_closed_connection_are_transient() {
    let body = r#"{"code":"internal error","message":"could not write to WAL","errorId":"x-3"}"#;
    assert!(matches!(
        write_against(Script::Answer(500, body)),
        Err(HttpError::Unavailable(m)) if m.contains("could not write to WAL")
    ));
    assert!(matches!(
        write_against(Script::Answer(503, "{}")),
        Err(HttpError::Unavailable(_))
    ));
    assert!(matches!(
        write_against(Script::Close),
        Err(HttpError::Unavailable(_))
    ));
    // Nothing listening at all.
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    assert!(matches!(
        client(&addr).write(b"t x=1i 1\n"),
        Err(HttpError::Unavailable(_))
    ));
}

#[test]
fn credentials_from_the_configuration_string_are_sent() {
    let addr = serve_forever(|request| {
        // "admin:quest" in base64.
        if request.contains("authorization: Basic YWRtaW46cXVlc3Q=")
            || request.contains("Authorization: Basic YWRtaW46cXVlc3Q=")
        {
            (204, String::new())
        } else {
            (401, r#"{"code":"unauthorised"}"#.to_owned())
        }
    });
    let with = |conf: &str| {
        QuestDbHttp::new(&QuestDbEndpoint::parse(&format!("http::addr={addr};{conf}")).unwrap())
            .unwrap()
            .write(b"t x=1i 1\n")
    };
    assert_eq!(with("username=admin;password=quest;"), Ok(()));
    assert!(matches!(
        with("username=admin;password=wrong;"),
        Err(HttpError::Misconfigured(_))
    ));
}

#[test]
fn a_204_is_success() {
    assert_eq!(write_against(Script::Answer(204, "")), Ok(()));
}

#[test]
fn statuses_are_classified_without_reading_the_text() {
    // The same text under different statuses: only the status decides.
    let body = r#"{"message":"anything"}"#;
    assert!(matches!(
        classify(400, body),
        Some(HttpError::Refused { line: None, .. })
    ));
    assert!(matches!(classify(413, body), Some(HttpError::TooLarge(_))));
    assert!(matches!(
        classify(404, body),
        Some(HttpError::Misconfigured(_))
    ));
    assert!(matches!(
        classify(421, body),
        Some(HttpError::Unavailable(_))
    ));
    assert!(matches!(
        classify(429, body),
        Some(HttpError::Unavailable(_))
    ));
    assert!(
        matches!(classify(502, "<html>bad gateway</html>"), Some(HttpError::Unavailable(m)) if m.contains("bad gateway"))
    );
    assert_eq!(classify(200, body), None);
    assert_eq!(classify(204, ""), None);
    // /exec's error shape.
    assert!(matches!(
        classify(400, r#"{"query":"x","error":"table does not exist","position":3}"#),
        Some(HttpError::Refused { message, .. }) if message == "HTTP 400: table does not exist"
    ));
}

#[test]
fn an_https_endpoint_is_spoken_to_in_tls() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut first = [0u8; 1];
        stream.read_exact(&mut first).unwrap();
        // Not a TLS server: the handshake fails.
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        first[0]
    });
    let endpoint =
        QuestDbEndpoint::parse(&format!("https::addr={addr};request_timeout=3000;")).unwrap();
    let result = QuestDbHttp::new(&endpoint).unwrap().write(b"t x=1i 1\n");
    // 0x16: a TLS handshake record (the ClientHello), not plain HTTP.
    assert_eq!(server.join().unwrap(), 0x16);
    assert!(
        matches!(result, Err(HttpError::Unavailable(_))),
        "{result:?}"
    );
}

#[test]
fn a_tls_roots_file_without_certificates_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate").unwrap();
    let endpoint =
        QuestDbEndpoint::parse(&format!("https::addr=x:9000;tls_roots={};", path.display()))
            .unwrap();
    assert!(matches!(
        QuestDbHttp::new(&endpoint),
        Err(HttpError::Misconfigured(m)) if m.contains("no PEM certificate")
    ));
}
