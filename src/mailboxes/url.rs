//! `imap://` / `imaps://` mailbox URLs (RFC 5092 in spirit, simplified).
//!
//! `imap[s]://USER:PASS@HOST[:PORT]/FOLDER[?starttls=true&folder=OTHER&allow_plaintext=true]`,
//! user and password percent-encoded. `imaps` is implicit TLS (port 993), `imap` is plain
//! (port 143) or STARTTLS with `starttls=true`. Extra `folder=` parameters add folders to poll.

use percent_encoding::percent_decode_str;

/// How the IMAP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`imaps://`, port 993).
    Tls,
    /// Plain connection upgraded with STARTTLS (RFC 3501 6.2.1).
    StartTls,
    /// No encryption: only for loopback hosts unless explicitly allowed.
    Plain,
}

/// True for `localhost` and loopback addresses (127.0.0.0/8, ::1): the only hosts a mailbox
/// may reach without encryption unless explicitly allowed.
pub fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A parsed IMAP mailbox URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ImapUrl {
    pub security: Security,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    /// Folders to poll, the path's first; `INBOX` when the path is empty.
    pub folders: Vec<String>,
    /// `allow_plaintext=true`: permit a plain connection to a non-loopback host.
    pub allow_plaintext: bool,
}

impl std::fmt::Debug for ImapUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.redacted())
    }
}

/// Why a URL was rejected; the message is meant for the person who typed it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("not a URL: {0}")]
    Syntax(String),
    #[error("unsupported scheme {0:?}: use imap:// or imaps://")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL has no user name (imap://USER:PASS@host/)")]
    NoUser,
    #[error("the URL has no password (imap://USER:PASS@host/)")]
    NoPassword,
    #[error("user name or password is not valid percent-encoded UTF-8")]
    Encoding,
}

impl ImapUrl {
    /// Parses and validates a mailbox URL.
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let u = url::Url::parse(input.trim()).map_err(|e| UrlError::Syntax(e.to_string()))?;
        let tls = match u.scheme() {
            "imaps" => true,
            "imap" => false,
            other => return Err(UrlError::Scheme(other.to_string())),
        };
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(UrlError::NoHost)?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| UrlError::Encoding)
        };
        let username = decode(u.username())?;
        if username.is_empty() {
            return Err(UrlError::NoUser);
        }
        let password = decode(u.password().ok_or(UrlError::NoPassword)?)?;
        let flag = |name: &str| {
            u.query_pairs()
                .any(|(k, v)| k == name && matches!(&*v, "true" | "1" | "yes"))
        };
        let starttls = flag("starttls");
        let security = match (tls, starttls) {
            (true, _) => Security::Tls,
            (false, true) => Security::StartTls,
            (false, false) => Security::Plain,
        };
        let path = decode(u.path().trim_start_matches('/'))?;
        let mut folders = vec![if path.is_empty() {
            "INBOX".to_string()
        } else {
            path
        }];
        for (k, v) in u.query_pairs() {
            if k == "folder" && !v.is_empty() && !folders.iter().any(|f| *f == v) {
                folders.push(v.into_owned());
            }
        }
        Ok(ImapUrl {
            security,
            port: u.port().unwrap_or(if tls { 993 } else { 143 }),
            host,
            username,
            password,
            folders,
            allow_plaintext: flag("allow_plaintext"),
        })
    }

    /// True when the host is a loopback name or address.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }

    /// The URL without its password, for logs and error messages.
    pub fn redacted(&self) -> String {
        let scheme = if self.security == Security::Tls {
            "imaps"
        } else {
            "imap"
        };
        format!(
            "{scheme}://{}@{}:{}/{}",
            self.username,
            self.host,
            self.port,
            self.folders.join(",")
        )
    }
}

/// Validates an `smtp://` / `smtps://` URL
/// (`smtp[s]://[USER[:PASS]@]HOST[:PORT][?starttls=true&allow_plaintext=true]`) with the
/// outbox's own parser ([`super::SmtpUrl`]), so a URL accepted here is one the sender
/// can use: plain SMTP to a non-loopback host is refused unless `allow_plaintext=true`.
pub fn check_smtp_url(input: &str) -> Result<(), UrlError> {
    use super::SmtpUrlError as E;
    super::SmtpUrl::parse(input).map(drop).map_err(|e| match e {
        E::Syntax(s) => UrlError::Syntax(s),
        E::Scheme(s) => UrlError::Scheme(format!("{s} (use smtp:// or smtps://)")),
        E::NoHost => UrlError::NoHost,
        E::Encoding => UrlError::Encoding,
        // UrlError has no variant for it; the outbox's message says what to do.
        E::Plaintext(_) => UrlError::Syntax(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let u =
            ImapUrl::parse("imaps://support%40example.com:p%40ss@mail.example.com/INBOX").unwrap();
        assert_eq!(u.security, Security::Tls);
        assert_eq!(u.port, 993);
        assert_eq!(u.username, "support@example.com");
        assert_eq!(u.password, "p@ss");
        assert_eq!(u.folders, ["INBOX"]);

        let u = ImapUrl::parse("imap://a:b@127.0.0.1:10143/?starttls=true&folder=Archive").unwrap();
        assert_eq!(u.security, Security::StartTls);
        assert_eq!(u.port, 10143);
        assert_eq!(u.folders, ["INBOX", "Archive"]);
        assert!(u.is_loopback());
        assert!(!format!("{u:?}").contains(":b@"), "password must not print");
    }

    #[test]
    fn rejects_malformed_urls_with_a_reason() {
        assert_eq!(
            ImapUrl::parse("http://a:b@h/"),
            Err(UrlError::Scheme("http".into()))
        );
        assert_eq!(ImapUrl::parse("imap://h/"), Err(UrlError::NoUser));
        assert_eq!(ImapUrl::parse("imap://a@h/"), Err(UrlError::NoPassword));
        assert!(matches!(
            ImapUrl::parse("not a url"),
            Err(UrlError::Syntax(_))
        ));
    }
}
