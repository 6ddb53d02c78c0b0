//! E-mail notifier tests against an in-process SMTP receiver (a std `TcpListener` on
//! 127.0.0.1:0 speaking just enough plain SMTP): what arrives (recipient, decoded subject,
//! Chinese-first body, headers), how SMTP replies and network failures are classified, and
//! that the password never shows.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alerting::delivery::{Channel, ChannelKind, Notice, NoticeKind, Recipient, Tier};
use alerting::model::{GridPath, Timestamp};
use alerting::Level;
use base64::Engine as _;

use super::super::*;

const T0: Timestamp = Timestamp(1_795_305_600_000_000); // 2026-11-22T00:00:00Z
const TO: &str = "zhang@example.org";
const PASSWORD: &str = "pa55-w0rd-Secret!";
const PASSWORD_ENV: &str = "WJ_TEST_SMTP_PASSWORD";

// ---------------------------------------------------------------- fixtures

fn delivery(target: &str) -> Delivery {
    let n = Notice {
        id: format!("n7/escalated/wp-east/{}", T0.as_micros()),
        kind: NoticeKind::Escalated,
        tier: Tier::Street,
        recipients: vec![Recipient {
            supervisor: "jd-1".into(),
            name: "张三".into(),
            tier: Tier::Street,
            channels: vec![Channel {
                kind: ChannelKind::Email,
                target: target.to_owned(),
                secret_env: None,
                language: None,
            }],
            mobile: None,
        }],
        alerts: vec![format!("W2/wp-east/wm-1/{}", T0.as_micros())],
        site: "wp-east".into(),
        site_name: "东区水厂出水口".into(),
        grid: GridPath {
            district: "东城区".into(),
            street: "东华门街道".into(),
            community: "多福巷社区".into(),
        },
        level: Level::I,
        text_zh: "【一级红色·逾期未确认·升级上报】东区水厂出水口（东城区/东华门街道/多福巷社区）\n\
                  1. 出厂水游离氯低于下限 0.3 mg/L（超标期间最低 0.02 mg/L，当前 0.02 mg/L）；自北京时间 11月22日 07:40 起。\n\
                  处置建议：核查净水与消毒工艺及投加设备，现场采样复检。"
            .into(),
        text_en: "[Level I red · escalated: not acknowledged in time] East plant outlet\n\
                  1. Free chlorine below the lower limit 0.3 mg/L (now 0.02 mg/L); since 2026-11-22 07:40 Beijing time.\n   \
                  Evidence: value 0.02 mg/L, limit 0.3 mg/L\n\
                  What to do: Check treatment and disinfection (dosing) at the plant."
            .into(),
        created_at: T0,
        links: Vec::new(),
    };
    Delivery::fan_out(&n).remove(0)
}

fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        from: "weijian 卫监 <alerts@example.org>".into(),
        username: None,
        password_env: None,
        timeout: Duration::from_secs(5),
    }
}

fn with_login(port: u16) -> SmtpSettings {
    SmtpSettings {
        username: Some("alerts".into()),
        password_env: Some(PASSWORD_ENV.into()),
        ..settings(port)
    }
}

fn secrets() -> Arc<dyn SecretSource> {
    Arc::new(HashMap::from([(
        PASSWORD_ENV.to_owned(),
        PASSWORD.to_owned(),
    )]))
}

fn no_secrets() -> Arc<dyn SecretSource> {
    Arc::new(HashMap::<String, String>::new())
}

/// A port nothing listens on (bound, then closed again).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

// ---------------------------------------------------------------- the SMTP receiver

/// How the receiver behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Accepts every message.
    Accept,
    /// Answers `RCPT TO` with this reply code (550 mailbox unavailable, 450 busy).
    RejectRcpt(u16),
    /// Offers `AUTH PLAIN LOGIN` and answers it with this code (235 ok, 535 invalid).
    Auth(u16),
    /// Accepts the connection and never says anything.
    Silent,
}

/// One SMTP session as the receiver saw it.
#[derive(Debug, Clone, Default)]
struct Session {
    mail_from: String,
    rcpt_to: Vec<String>,
    /// The decoded `AUTH PLAIN` response (`\0user\0password`).
    auth_plain: Option<String>,
    /// The message as transmitted (dot-unstuffed), CRLF line ends.
    data: Option<String>,
}

type Sessions = Arc<Mutex<Vec<Session>>>;

/// Starts a receiver on 127.0.0.1:0; returns its port and the sessions it has seen.
fn smtp_receiver(behaviour: Behaviour) -> (u16, Sessions) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sessions: Sessions = Arc::default();
    let seen = sessions.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(stream) = stream else { return };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let session = serve(stream, behaviour);
                seen.lock().unwrap().push(session);
            });
        }
    });
    (port, sessions)
}

fn serve(stream: TcpStream, behaviour: Behaviour) -> Session {
    let mut session = Session::default();
    if behaviour == Behaviour::Silent {
        std::thread::sleep(Duration::from_secs(3));
        return session;
    }
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut say = |line: &str| {
        let _ = out.write_all(format!("{line}\r\n").as_bytes());
    };
    say("220 mx.test.local ESMTP weijian-test");
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return session;
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            if matches!(behaviour, Behaviour::Auth(_)) {
                say("250-mx.test.local");
                say("250-AUTH PLAIN LOGIN");
                say("250 SIZE 10485760");
            } else {
                say("250-mx.test.local");
                say("250 SIZE 10485760");
            }
        } else if upper.starts_with("HELO") {
            say("250 mx.test.local");
        } else if upper.starts_with("AUTH PLAIN ") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(cmd["AUTH PLAIN ".len()..].trim())
                .unwrap_or_default();
            session.auth_plain = Some(String::from_utf8_lossy(&decoded).into_owned());
            match behaviour {
                Behaviour::Auth(235) => say("235 2.7.0 Authentication successful"),
                Behaviour::Auth(code) => say(&format!("{code} 5.7.8 Authentication failed")),
                _ => say("503 5.5.1 AUTH not offered"),
            }
        } else if upper.starts_with("MAIL FROM:") {
            session.mail_from = cmd["MAIL FROM:".len()..].to_owned();
            say("250 2.1.0 Ok");
        } else if upper.starts_with("RCPT TO:") {
            session.rcpt_to.push(cmd["RCPT TO:".len()..].to_owned());
            match behaviour {
                Behaviour::RejectRcpt(550) => {
                    say("550 5.1.1 <zhang@example.org>: mailbox unavailable")
                }
                Behaviour::RejectRcpt(code) => {
                    say(&format!("{code} 4.2.1 mailbox busy, try again later"))
                }
                _ => say("250 2.1.5 Ok"),
            }
        } else if upper == "DATA" {
            say("354 End data with <CR><LF>.<CR><LF>");
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return session;
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            session.data = Some(data);
            say("250 2.0.0 Ok: queued as 1");
        } else if upper == "QUIT" {
            say("221 2.0.0 Bye");
            return session;
        } else if upper == "RSET" || upper == "NOOP" {
            say("250 2.0.0 Ok");
        } else {
            say("502 5.5.2 Command not recognized");
        }
    }
}

/// Waits until the receiver has recorded `n` sessions (each is recorded when it ends).
fn sessions(seen: &Sessions, n: usize) -> Vec<Session> {
    for _ in 0..200 {
        {
            let s = seen.lock().unwrap();
            if s.len() >= n {
                return s.clone();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the receiver saw fewer than {n} sessions");
}

// ---------------------------------------------------------------- reading the message

/// A received message: unfolded headers and the decoded body.
struct Mail {
    headers: Vec<(String, String)>,
    raw_body: String,
}

impl Mail {
    fn parse(data: &str) -> Self {
        let (head, body) = data.split_once("\r\n\r\n").unwrap();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                headers.last_mut().unwrap().1.push_str(line);
            } else {
                let (name, value) = line.split_once(':').unwrap();
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        Self {
            headers,
            raw_body: body.to_owned(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    /// The body, decoded per `Content-Transfer-Encoding`.
    fn body(&self) -> String {
        match self.header("Content-Transfer-Encoding") {
            "base64" => {
                let compact: String = self.raw_body.split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap();
                String::from_utf8(bytes).unwrap()
            }
            other => panic!("unexpected transfer encoding {other}"),
        }
    }
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`); whitespace between
/// two encoded words is dropped, as the RFC says.
fn decode_rfc2047(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("=?") else {
            out.push_str(rest);
            break;
        };
        let between = &rest[..start];
        if !(last_was_word && between.trim().is_empty()) {
            out.push_str(between);
        }
        let word = &rest[start + 2..];
        let mut parts = word.splitn(3, '?');
        let (_charset, enc, tail) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let end = tail.find("?=").unwrap();
        let text = &tail[..end];
        let bytes = if enc.eq_ignore_ascii_case("b") {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap()
        } else {
            q_decode(text)
        };
        out.push_str(&String::from_utf8(bytes).unwrap());
        rest = &tail[end + 2..];
        last_was_word = true;
    }
    out
}

fn q_decode(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Sends `d` with a notifier for `s`.
fn send(s: SmtpSettings, secrets: Arc<dyn SecretSource>, d: &Delivery) -> Result<(), NotifyError> {
    EmailNotifier::new(s, secrets).unwrap().send(d)
}

// ---------------------------------------------------------------- what arrives

#[test]
fn an_email_reaches_the_recipient_with_the_chinese_title_and_a_chinese_first_body() {
    let (port, seen) = smtp_receiver(Behaviour::Accept);
    let d = delivery(TO);
    send(settings(port), no_secrets(), &d).unwrap();

    let s = sessions(&seen, 1).remove(0);
    assert_eq!(s.mail_from, "<alerts@example.org>");
    assert_eq!(s.rcpt_to, ["<zhang@example.org>"]);
    assert_eq!(s.auth_plain, None);
    let data = s.data.unwrap();
    assert!(
        data.is_ascii(),
        "needs no 8BITMIME: headers and body are encoded"
    );
    let mail = Mail::parse(&data);

    let subject = decode_rfc2047(mail.header("Subject"));
    assert_eq!(subject, "【一级红色·逾期未确认·升级上报】东区水厂出水口");
    assert_eq!(subject, render::title(&d));
    let from = decode_rfc2047(mail.header("From"));
    assert!(
        from.contains("卫监") && from.contains("<alerts@example.org>"),
        "{from}"
    );
    let to = decode_rfc2047(mail.header("To"));
    assert!(
        to.contains("张三") && to.contains("<zhang@example.org>"),
        "{to}"
    );
    assert_eq!(mail.header("X-Weijian-Notice-Id"), d.notice_id);
    assert_eq!(mail.header("Date"), "Sun, 22 Nov 2026 00:00:00 +0000");
    let content_type = mail.header("Content-Type").to_ascii_lowercase();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(content_type.contains("charset=utf-8"), "{content_type}");
    let mid = mail.header("Message-ID");
    assert!(
        mid.starts_with('<') && mid.ends_with(".weijian@example.org>"),
        "{mid}"
    );

    let body = mail.body();
    for expected in [
        "级别：一级（红色，特别严重）",
        "站点：东区水厂出水口（wp-east）",
        "网格：东城区/东华门街道/多福巷社区",
        "通知时间：北京时间 11月22日 08:00",
        "致：张三（街道级）",
        "出厂水游离氯低于下限 0.3 mg/L（超标期间最低 0.02 mg/L",
        "处置建议：核查净水与消毒工艺",
        "Level I (red, critical) · escalated: not acknowledged in time",
        "Site: 东区水厂出水口 (wp-east)",
        "Notice time: 2026-11-22 08:00 Beijing time (2026-11-22T00:00:00.000Z)",
        "Evidence: value 0.02 mg/L, limit 0.3 mg/L",
        "What to do: Check treatment and disinfection",
        &format!("W2/wp-east/wm-1/{}", T0.as_micros()),
        &format!("通知编号 Notice ID: {}", d.notice_id),
    ] {
        assert!(body.contains(expected), "missing {expected:?} in\n{body}");
    }
    let zh = body.find("出厂水游离氯").unwrap();
    let en = body.find("Free chlorine").unwrap();
    assert!(
        body.find("级别").unwrap() < en && zh < en,
        "Chinese first:\n{body}"
    );
    assert!(
        body.find("Notice ID").unwrap() > en,
        "notice id last:\n{body}"
    );
}

#[test]
fn the_message_id_is_stable_across_resends_and_differs_between_recipients() {
    let (port, seen) = smtp_receiver(Behaviour::Accept);
    let n = EmailNotifier::new(settings(port), no_secrets()).unwrap();
    let d = delivery(TO);
    n.send(&d).unwrap();
    n.send(&d).unwrap();
    n.send(&delivery("li@example.org")).unwrap();
    let mut ids: Vec<(String, String)> = sessions(&seen, 3)
        .into_iter()
        .map(|s| {
            let m = Mail::parse(&s.data.unwrap());
            (s.rcpt_to[0].clone(), m.header("Message-ID").to_owned())
        })
        .collect();
    ids.sort();
    assert_eq!(ids[0].0, "<li@example.org>");
    assert_eq!(ids[1], ids[2], "a re-send carries the same Message-ID");
    assert_ne!(ids[0].1, ids[1].1, "another recipient gets another one");
}

#[test]
fn a_target_in_mailbox_syntax_keeps_its_own_name() {
    let (port, seen) = smtp_receiver(Behaviour::Accept);
    send(
        settings(port),
        no_secrets(),
        &delivery("Duty desk 值班室 <duty@example.org>"),
    )
    .unwrap();
    let s = sessions(&seen, 1).remove(0);
    assert_eq!(s.rcpt_to, ["<duty@example.org>"]);
    let to = decode_rfc2047(Mail::parse(&s.data.unwrap()).header("To"));
    assert!(to.contains("值班室") && !to.contains("张三"), "{to}");
}

// ---------------------------------------------------------------- failures

#[test]
fn a_rejected_mailbox_550_is_permanent() {
    let (port, _seen) = smtp_receiver(Behaviour::RejectRcpt(550));
    let err = send(settings(port), no_secrets(), &delivery(TO)).unwrap_err();
    assert!(matches!(err, NotifyError::Api { code: 550, .. }), "{err:?}");
    assert!(!err.is_transient(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("550") && text.contains("mailbox unavailable"),
        "{text}"
    );
}

#[test]
fn a_busy_mailbox_450_is_transient() {
    let (port, _seen) = smtp_receiver(Behaviour::RejectRcpt(450));
    let err = send(settings(port), no_secrets(), &delivery(TO)).unwrap_err();
    assert!(matches!(err, NotifyError::Api { code: 450, .. }), "{err:?}");
    assert!(err.is_transient(), "{err}");
}

#[test]
fn nothing_listening_is_a_transient_connection_error() {
    let port = closed_port();
    let err = send(settings(port), no_secrets(), &delivery(TO)).unwrap_err();
    assert!(matches!(err, NotifyError::Connection { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(
        err.to_string()
            .contains(&format!("smtp://127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn a_server_that_never_answers_times_out_transiently() {
    let (port, _seen) = smtp_receiver(Behaviour::Silent);
    let s = SmtpSettings {
        timeout: Duration::from_millis(300),
        ..settings(port)
    };
    let started = std::time::Instant::now();
    let err = send(s, no_secrets(), &delivery(TO)).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, NotifyError::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[test]
fn a_missing_password_is_permanent_and_nothing_is_sent() {
    let (port, seen) = smtp_receiver(Behaviour::Auth(235));
    let err = send(with_login(port), no_secrets(), &delivery(TO)).unwrap_err();
    assert_eq!(
        err,
        NotifyError::MissingSecret {
            channel: "email",
            env: PASSWORD_ENV.into()
        }
    );
    assert!(!err.is_transient());
    std::thread::sleep(Duration::from_millis(100));
    assert!(seen.lock().unwrap().is_empty(), "no connection was made");
}

#[test]
fn the_password_authenticates_and_never_appears_in_errors() {
    let (port, seen) = smtp_receiver(Behaviour::Auth(235));
    send(with_login(port), secrets(), &delivery(TO)).unwrap();
    let s = sessions(&seen, 1).remove(0);
    assert_eq!(
        s.auth_plain.as_deref(),
        Some(format!("\0alerts\0{PASSWORD}").as_str())
    );
    assert!(s.data.is_some());

    let (port, _seen) = smtp_receiver(Behaviour::Auth(535));
    let err = send(with_login(port), secrets(), &delivery(TO)).unwrap_err();
    assert!(matches!(err, NotifyError::Api { code: 535, .. }), "{err:?}");
    assert!(!err.is_transient(), "bad credentials stay bad: {err}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains(PASSWORD), "{text}");
    let debug = format!(
        "{:?}",
        EmailNotifier::new(with_login(port), secrets()).unwrap()
    );
    assert!(!debug.contains(PASSWORD), "{debug}");
}

#[test]
fn an_invalid_recipient_address_is_permanent_and_shown_masked() {
    let (port, seen) = smtp_receiver(Behaviour::Accept);
    let err = send(settings(port), no_secrets(), &delivery("zhang.example.org")).unwrap_err();
    assert!(matches!(err, NotifyError::InvalidTarget { .. }), "{err:?}");
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(text.contains("z***"), "{text}");
    assert!(!text.contains("zhang.example.org"), "{text}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(seen.lock().unwrap().is_empty(), "no connection was made");
    assert_eq!(email::mask_address("zhang@example.org"), "z***@example.org");
    assert_eq!(
        email::mask_address("张三 <zhang@example.org>"),
        "z***@example.org"
    );
}

#[test]
fn a_bad_sender_or_half_configured_login_is_rejected_when_the_notifier_is_built() {
    for s in [
        SmtpSettings {
            from: "weijian alerts".into(),
            ..settings(25)
        },
        SmtpSettings {
            password_env: None,
            ..with_login(25)
        },
        SmtpSettings {
            host: String::new(),
            ..settings(25)
        },
    ] {
        let err = EmailNotifier::new(s.clone(), secrets()).unwrap_err();
        assert!(
            matches!(err, NotifyError::InvalidTarget { .. }),
            "{s:?}: {err:?}"
        );
        assert!(!err.is_transient());
        assert!(err.to_string().contains("[delivery.smtp]"), "{err}");
    }
    for tls in [SmtpTls::StartTls, SmtpTls::Tls] {
        let s = SmtpSettings {
            host: "smtp.example.org".into(),
            tls,
            ..settings(587)
        };
        assert!(EmailNotifier::new(s, secrets()).is_ok(), "{tls:?}");
    }
}

// ---------------------------------------------------------------- wiring

#[test]
fn email_without_smtp_configured_says_what_to_configure() {
    let notifiers = Notifiers::http(&HttpConfig::default());
    let err = notifiers.send(&delivery(TO)).unwrap_err();
    assert!(matches!(err, NotifyError::Unsupported { .. }));
    assert!(!err.is_transient());
    assert!(err.to_string().contains("[delivery.smtp]"), "{err}");
}

#[test]
fn notifiers_with_an_email_notifier_deliver_email() {
    let (port, seen) = smtp_receiver(Behaviour::Accept);
    let notifiers = Notifiers::http(&HttpConfig::default()).with(Arc::new(
        EmailNotifier::new(settings(port), no_secrets()).unwrap(),
    ));
    assert!(notifiers.supports(ChannelKind::Email));
    notifiers.send(&delivery(TO)).unwrap();
    assert_eq!(sessions(&seen, 1)[0].rcpt_to, ["<zhang@example.org>"]);
}

#[test]
fn check_channel_accepts_email_addresses_and_rejects_the_rest() {
    let s: HashMap<String, String> = HashMap::new();
    let ch = |target: &str| Channel {
        kind: ChannelKind::Email,
        target: target.to_owned(),
        secret_env: None,
        language: None,
    };
    for ok in ["zhang@example.org", "张三 <zhang@example.org>", "a@b.cn"] {
        assert!(check_channel(&ch(ok), &s).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "zhang",
        "zhang@",
        "@example.org",
        "https://example.org/x",
    ] {
        let err = check_channel(&ch(bad), &s).unwrap_err();
        assert!(
            matches!(err, NotifyError::InvalidTarget { .. }),
            "{bad}: {err:?}"
        );
        assert!(!err.is_transient());
    }
}
