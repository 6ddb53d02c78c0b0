//! The QuestDB that a questdb-rs configuration string names (`http::addr=host:9000;...`),
//! parsed once with `questdb-confstr` (the parser questdb-rs itself uses, so `;;` escaping and
//! every key are read exactly as the writer reads them) into a typed endpoint: the string for
//! the ILP writer, the HTTP base for DDL and queries over `/exec`, and the credentials for its
//! `Authorization` header, and the settings the writer's own HTTP client honours (TLS roots,
//! `request_timeout`, `request_min_throughput`, `protocol_version`). The writer, the
//! configuration, the bench and the end-to-end tests all use it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default port of QuestDB's HTTP endpoint (questdb-rs uses it when `addr` has none).
pub const DEFAULT_HTTP_PORT: u16 = 9000;

/// weijian's default `request_timeout` (questdb-rs's is 10 s): 5 s per request plus the
/// body's transfer time, so a probe or a write to a QuestDB that does not answer gives up soon
/// and shutdown is never stuck behind it for long (the drain retries with back-off).
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 5_000;

/// questdb-rs's default `request_min_throughput`: 100 KiB/s, so a request of n bytes may take
/// `request_timeout + n / 102400` seconds.
pub const DEFAULT_REQUEST_MIN_THROUGHPUT: u64 = 102_400;

/// The ILP version to encode rows with (`protocol_version=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IlpProtocol {
    /// Text only (any QuestDB).
    V1,
    /// Binary doubles (QuestDB 9.0 and later).
    V2,
    /// Ask the server (`/settings`), as questdb-rs does by default.
    Auto,
}

/// A parsed questdb-rs configuration string for ILP over HTTP(S).
#[derive(Clone, PartialEq, Eq)]
pub struct QuestDbEndpoint {
    /// The string as given (trimmed, ending in `;`), for `questdb::ingress::Sender`.
    conf: String,
    tls: bool,
    host: String,
    port: u16,
    auth: Option<Auth>,
    /// `tls_roots=`: a PEM file of the CAs to trust instead of the bundled web roots.
    tls_roots: Option<PathBuf>,
    request_timeout: Duration,
    request_min_throughput: u64,
    protocol: IlpProtocol,
}

/// How `/exec` requests authenticate, as the ILP writer does.
#[derive(Clone, PartialEq, Eq)]
enum Auth {
    Basic { username: String, password: String },
    Bearer(String),
}

/// Why a configuration string does not name a usable QuestDB.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("not a questdb-rs configuration string like http::addr=127.0.0.1:9000; ({0})")]
    Syntax(String),
    #[error(
        "transport {0:?} is not supported: use http or https (only ILP over HTTP confirms writes)"
    )]
    Transport(String),
    #[error("it has no addr=host:port")]
    NoAddr,
    #[error("the port of addr={0} is not a number from 1 to 65535")]
    Port(String),
    #[error("username= needs password= (and token= goes alone)")]
    Credentials,
    #[error("{key}={value} is not supported: {why}")]
    Unsupported {
        key: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("{key}={value} is not a whole number")]
    Number { key: &'static str, value: String },
}

impl QuestDbEndpoint {
    /// Parses `conf`.
    ///
    /// # Errors
    /// The string does not parse, names another transport than `http`/`https`, has no
    /// `addr`, a bad port, or half a pair of credentials.
    pub fn parse(conf: &str) -> Result<QuestDbEndpoint, EndpointError> {
        let mut conf = conf.trim().to_owned();
        if !conf.ends_with(';') {
            conf.push(';');
        }
        let parsed = questdb_confstr::parse_conf_str(&conf)
            .map_err(|e| EndpointError::Syntax(e.to_string()))?;
        let tls = match parsed.service() {
            "http" => false,
            "https" => true,
            other => return Err(EndpointError::Transport(other.to_owned())),
        };
        let addr = parsed
            .get("addr")
            .filter(|a| !a.is_empty())
            .ok_or(EndpointError::NoAddr)?;
        let (host, port) = match addr.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| EndpointError::Port(addr.to_owned()))?,
            ),
            None => (addr, DEFAULT_HTTP_PORT),
        };
        if host.is_empty() {
            return Err(EndpointError::NoAddr);
        }
        let auth = match (
            parsed.get("username"),
            parsed.get("password"),
            parsed.get("token"),
        ) {
            (None, None, None) => None,
            (Some(u), Some(p), None) => Some(Auth::Basic {
                username: u.to_owned(),
                password: p.to_owned(),
            }),
            (None, None, Some(t)) => Some(Auth::Bearer(t.to_owned())),
            _ => return Err(EndpointError::Credentials),
        };
        let number = |key: &'static str, default: u64| match parsed.get(key) {
            None => Ok(default),
            Some(v) => v.parse::<u64>().map_err(|_| EndpointError::Number {
                key,
                value: v.to_owned(),
            }),
        };
        let request_timeout =
            Duration::from_millis(number("request_timeout", DEFAULT_REQUEST_TIMEOUT_MS)?.max(1));
        let request_min_throughput =
            number("request_min_throughput", DEFAULT_REQUEST_MIN_THROUGHPUT)?;
        let protocol = match parsed.get("protocol_version") {
            None | Some("auto") => IlpProtocol::Auto,
            Some("1") => IlpProtocol::V1,
            Some("2") => IlpProtocol::V2,
            Some(other) => {
                return Err(EndpointError::Unsupported {
                    key: "protocol_version",
                    value: other.to_owned(),
                    why: "weijian writes ILP version 1 or 2 (or auto)",
                })
            }
        };
        let tls_roots = tls_settings(&parsed)?;
        Ok(QuestDbEndpoint {
            host: host.to_owned(),
            port,
            tls,
            auth,
            conf,
            tls_roots,
            request_timeout,
            request_min_throughput,
            protocol,
        })
    }

    /// QuestDB on this machine's default HTTP port, `http::addr=127.0.0.1:9000;`.
    pub fn local() -> QuestDbEndpoint {
        QuestDbEndpoint {
            conf: format!("http::addr=127.0.0.1:{DEFAULT_HTTP_PORT};"),
            tls: false,
            host: "127.0.0.1".to_owned(),
            port: DEFAULT_HTTP_PORT,
            auth: None,
            tls_roots: None,
            request_timeout: Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS),
            request_min_throughput: DEFAULT_REQUEST_MIN_THROUGHPUT,
            protocol: IlpProtocol::Auto,
        }
    }

    /// A PEM file of the CAs to trust (`tls_roots=`); `None`: the bundled web roots.
    pub fn tls_roots(&self) -> Option<&Path> {
        self.tls_roots.as_deref()
    }

    /// The time a request may take on top of its body's transfer (`request_timeout=`, ms).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// The slowest transfer rate tolerated, bytes a second (`request_min_throughput=`; 0: none).
    pub fn request_min_throughput(&self) -> u64 {
        self.request_min_throughput
    }

    /// The ILP version to encode with (`protocol_version=`).
    pub fn protocol(&self) -> IlpProtocol {
        self.protocol
    }

    /// The configuration string (with credentials), for the ILP writer.
    pub fn conf(&self) -> &str {
        &self.conf
    }

    /// `http://host:port` (or `https://`), for `/exec`.
    pub fn http_base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// The `Authorization` header value for `/exec`, if the string carries credentials.
    pub fn authorization(&self) -> Option<String> {
        match &self.auth {
            None => None,
            Some(Auth::Basic { username, password }) => Some(format!(
                "Basic {}",
                base64(format!("{username}:{password}").as_bytes())
            )),
            Some(Auth::Bearer(token)) => Some(format!("Bearer {token}")),
        }
    }

    /// The endpoint for printing: scheme, address and user, never a password or token.
    pub fn redacted(&self) -> String {
        let user = match &self.auth {
            Some(Auth::Basic { username, .. }) => format!(" (user {username})"),
            Some(Auth::Bearer(_)) => " (token)".to_owned(),
            None => String::new(),
        };
        format!("{}{user}", self.http_base())
    }
}

impl fmt::Debug for QuestDbEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The TLS keys: web roots (the default) or a PEM file of roots; verification stays on.
fn tls_settings(parsed: &questdb_confstr::ConfStr) -> Result<Option<PathBuf>, EndpointError> {
    if let Some(v) = parsed.get("tls_verify").filter(|v| *v != "on") {
        return Err(EndpointError::Unsupported {
            key: "tls_verify",
            value: v.to_owned(),
            why: "certificates are always verified (trust a private CA with tls_roots=)",
        });
    }
    let roots = parsed.get("tls_roots").map(PathBuf::from);
    match (parsed.get("tls_ca"), roots) {
        (None | Some("webpki_roots"), None) => Ok(None),
        (None | Some("pem_file"), Some(path)) => Ok(Some(path)),
        (Some("pem_file"), None) => Err(EndpointError::Unsupported {
            key: "tls_ca",
            value: "pem_file".to_owned(),
            why: "it needs tls_roots=<path of a PEM file>",
        }),
        (Some(other), _) => Err(EndpointError::Unsupported {
            key: "tls_ca",
            value: other.to_owned(),
            why: "use webpki_roots, or pem_file with tls_roots=<path>",
        }),
    }
}

/// Standard base64 with padding (RFC 4648), for HTTP Basic credentials.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_string_gives_the_base_and_no_credentials() {
        let e = QuestDbEndpoint::parse("http::addr=127.0.0.1:9000").unwrap();
        assert_eq!(e.http_base(), "http://127.0.0.1:9000");
        assert_eq!(e.conf(), "http::addr=127.0.0.1:9000;");
        assert_eq!(e.authorization(), None);
    }

    #[test]
    fn the_port_defaults_to_questdbs_http_port_and_https_is_kept() {
        let e = QuestDbEndpoint::parse("https::addr=questdb.example.org;").unwrap();
        assert_eq!(e.http_base(), "https://questdb.example.org:9000");
    }

    #[test]
    fn credentials_become_the_authorization_header_with_escapes_undone() {
        // `;;` is an escaped `;` inside a value: the password is `q;pw`.
        let e = QuestDbEndpoint::parse("http::addr=x:9000;username=admin;password=q;;pw;").unwrap();
        assert_eq!(
            e.authorization().as_deref(),
            Some(format!("Basic {}", base64(b"admin:q;pw")).as_str())
        );
        assert_eq!(base64(b"admin:quest"), "YWRtaW46cXVlc3Q=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        let t = QuestDbEndpoint::parse("http::addr=x;token=abc;").unwrap();
        assert_eq!(t.authorization().as_deref(), Some("Bearer abc"));
        assert!(!format!("{e:?} {}", e.redacted()).contains("pw"));
    }

    #[test]
    fn timeouts_protocol_and_tls_roots_are_read() {
        let e = QuestDbEndpoint::parse("http::addr=x;").unwrap();
        assert_eq!(e.request_timeout(), Duration::from_secs(5));
        assert_eq!(e.request_min_throughput(), 102_400);
        assert_eq!(e.protocol(), IlpProtocol::Auto);
        assert_eq!(e.tls_roots(), None);
        let e = QuestDbEndpoint::parse(
            "https::addr=x;request_timeout=2500;request_min_throughput=0;protocol_version=1;tls_roots=/etc/ca.pem;",
        )
        .unwrap();
        assert_eq!(e.request_timeout(), Duration::from_millis(2500));
        assert_eq!(e.request_min_throughput(), 0);
        assert_eq!(e.protocol(), IlpProtocol::V1);
        assert_eq!(e.tls_roots(), Some(Path::new("/etc/ca.pem")));
    }

    #[test]
    fn unusable_strings_say_why() {
        let cases = [
            ("tcp::addr=localhost:9009;", "tcp"),
            ("http::addr=;", "addr"),
            ("http::addr=x:port;", "port"),
            ("http::addr=x:9000;username=u;", "password"),
            ("addr=x:9000", "configuration string"),
            ("https::addr=x;tls_verify=unsafe_off;", "tls_verify"),
            ("https::addr=x;tls_ca=os_roots;", "tls_ca"),
            ("https::addr=x;tls_ca=pem_file;", "tls_roots"),
            ("http::addr=x;request_timeout=soon;", "request_timeout"),
            ("http::addr=x;protocol_version=3;", "protocol_version"),
        ];
        for (conf, says) in cases {
            let why = QuestDbEndpoint::parse(conf).unwrap_err().to_string();
            assert!(why.contains(says), "{conf}: {why}");
        }
    }
}
