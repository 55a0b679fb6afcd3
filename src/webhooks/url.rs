//! Which URLs webhooks may call (the SSRF policy). Only `https://` URLs, or `http://` to
//! loopback (`127.0.0.0/8`, `::1`, `localhost`) so local receivers and tests work. Private,
//! link-local, unique-local, shared (CGNAT), unspecified and (for https) loopback addresses
//! are refused unless `FRONTDESK_WEBHOOK_ALLOW_PRIVATE=true`: at registration when the URL's
//! host is such an address literally, and at delivery when DNS resolves the host to one
//! ([`address_allowed`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A URL the policy refuses; the text says why (shown to admins as the `url` field's error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlRefused(pub String);

/// Whether `url` may be registered. `allow_private` is `FRONTDESK_WEBHOOK_ALLOW_PRIVATE`.
/// Returns the parsed URL. Names are not resolved here (that happens at every delivery).
pub fn check_url(url: &str, allow_private: bool) -> Result<url::Url, UrlRefused> {
    // The URL parser reads `https:///x` as `https://x/`; an empty authority is no host here.
    if url
        .trim()
        .split_once("://")
        .is_some_and(|(_, rest)| rest.is_empty() || rest.starts_with('/'))
    {
        return Err(UrlRefused("the URL has no host".into()));
    }
    let parsed = url::Url::parse(url.trim()).map_err(|e| UrlRefused(format!("not a URL ({e})")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlRefused("credentials in the URL are not allowed".into()));
    }
    let host = parsed
        .host()
        .ok_or_else(|| UrlRefused("the URL has no host".into()))?;
    let literal: Option<IpAddr> = match host {
        url::Host::Ipv4(a) => Some(a.into()),
        url::Host::Ipv6(a) => Some(a.into()),
        url::Host::Domain(_) => None,
    };
    let is_localhost = matches!(host, url::Host::Domain(d) if is_localhost_name(d));
    match parsed.scheme() {
        "https" => {
            if let Some(ip) = literal
                && !address_allowed(ip, Scheme::Https, allow_private)
            {
                return Err(UrlRefused(format!(
                    "{ip} is a private or local address (set FRONTDESK_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
                )));
            }
            if is_localhost && !allow_private {
                return Err(UrlRefused(
                    "localhost over https is a local address (use http://localhost or set FRONTDESK_WEBHOOK_ALLOW_PRIVATE=true)".into(),
                ));
            }
            Ok(parsed)
        }
        "http" => {
            let loopback = is_localhost || literal.is_some_and(|ip| ip.is_loopback());
            if loopback {
                Ok(parsed)
            } else {
                Err(UrlRefused(
                    "only https:// URLs, or http:// to a loopback address (127.0.0.1, ::1, localhost)"
                        .into(),
                ))
            }
        }
        other => Err(UrlRefused(format!(
            "scheme {other}: only https:// (or http:// to loopback)"
        ))),
    }
}

/// `localhost` or a name under `.localhost` (RFC 6761: always loopback).
pub fn is_localhost_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

/// The scheme a delivery uses, which decides whether loopback is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain http: only loopback addresses.
    Http,
    /// https: only public addresses (any address with `allow_private`).
    Https,
}

/// Whether a delivery may connect to `ip`: over http only loopback; over https only
/// public unicast addresses, unless `allow_private` (then anything but unspecified).
pub fn address_allowed(ip: IpAddr, scheme: Scheme, allow_private: bool) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if ip.is_unspecified() {
        return false;
    }
    match scheme {
        Scheme::Http => ip.is_loopback(),
        Scheme::Https => allow_private || is_public(ip),
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => is_public_v6(a),
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    !(a.is_private()
        || a.is_loopback()
        || a.is_link_local()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_documentation()
        || o[0] == 0
        // 100.64.0.0/10, shared address space (carrier-grade NAT).
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        // 192.0.0.0/24 (IETF protocol assignments) and 198.18.0.0/15 (benchmarking).
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || o[0] >= 240)
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || a.is_unique_local()
        || a.is_unicast_link_local()
        // 64:ff9b:1::/48 local-use NAT64 and 2001:db8::/32 documentation.
        || (a.segments()[0] == 0x64 && a.segments()[1] == 0xff9b && a.segments()[2] == 1)
        || (a.segments()[0] == 0x2001 && a.segments()[1] == 0xdb8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_to_public_names_and_addresses_is_allowed() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("https://93.184.216.34/x", false).is_ok());
        assert!(check_url("https://[2606:4700::1111]/x", false).is_ok());
    }

    #[test]
    fn http_only_to_loopback() {
        assert!(check_url("http://127.0.0.1:9000/hook", false).is_ok());
        assert!(check_url("http://127.8.0.1/hook", false).is_ok());
        assert!(check_url("http://[::1]:9000/hook", false).is_ok());
        assert!(check_url("http://localhost:9000/hook", false).is_ok());
        assert!(check_url("http://hooks.example.com/x", false).is_err());
        assert!(
            check_url("http://10.0.0.5/x", true).is_err(),
            "http stays loopback-only"
        );
        assert!(check_url("ftp://example.com/x", false).is_err());
        assert!(check_url("https:///x", false).is_err());
        assert!(check_url("https://user:pw@example.com/x", false).is_err());
    }

    #[test]
    fn private_literals_over_https_are_refused_unless_allowed() {
        for url in [
            "https://10.0.0.5/hook",
            "https://192.168.1.1/",
            "https://172.16.0.1/",
            "https://169.254.169.254/latest",
            "https://100.64.0.1/",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:10.0.0.5]/",
            "https://0.0.0.0/",
            "https://localhost/",
        ] {
            assert!(check_url(url, false).is_err(), "{url} must be refused");
        }
        assert!(check_url("https://10.0.0.5/hook", true).is_ok());
        assert!(!address_allowed(
            "0.0.0.0".parse().unwrap(),
            Scheme::Https,
            true
        ));
    }

    #[test]
    fn resolved_addresses_follow_the_scheme() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let private: IpAddr = "10.1.2.3".parse().unwrap();
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        assert!(address_allowed(lo, Scheme::Http, false));
        assert!(!address_allowed(public, Scheme::Http, false));
        assert!(!address_allowed(private, Scheme::Http, true));
        assert!(address_allowed(public, Scheme::Https, false));
        assert!(!address_allowed(lo, Scheme::Https, false));
        assert!(!address_allowed(private, Scheme::Https, false));
        assert!(address_allowed(private, Scheme::Https, true));
    }
}
