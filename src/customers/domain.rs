//! Which company a mail address belongs to: its domain, unless the domain is a free-mail
//! provider's (a Gmail address names a person, not an employer).

/// Free-mail providers: their domain names no company. (Migration
/// 20261204030000_create_company_and_lifecycle_stage.sql copied this list to backfill the
/// customers that existed then.)
pub const FREE_MAIL: [&str; 12] = [
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "proton.me",
];

/// Whether `domain` (any case) is a free-mail provider's.
pub fn is_free_mail(domain: &str) -> bool {
    FREE_MAIL.iter().any(|d| d.eq_ignore_ascii_case(domain))
}

/// The company domain of an address, lower-cased (`jana@Acme.example.com` →
/// `acme.example.com`); `None` for free-mail providers and for a string without a domain.
pub fn company_domain(email: &str) -> Option<String> {
    let domain = email.rsplit_once('@')?.1.trim().to_lowercase();
    (!domain.is_empty() && !is_free_mail(&domain)).then_some(domain)
}

/// Checks a company domain typed by a person (`Acme.example` → `acme.example`): letters,
/// digits, `-` and dots, at least one dot, no free-mail provider. The error says why.
pub fn parse_company_domain(s: &str) -> Result<String, String> {
    let d = s.trim().trim_start_matches('@').to_lowercase();
    let ok_chars = d
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let ok_labels = d
        .split('.')
        .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if d.is_empty() || !ok_chars || !ok_labels || !d.contains('.') || d.len() > 253 {
        return Err(format!("{s:?} is not a mail domain (such as acme.example)"));
    }
    if is_free_mail(&d) {
        return Err(format!(
            "{d} is a free-mail provider, not a company's domain"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_is_the_domain_unless_it_is_free_mail() {
        assert_eq!(
            company_domain("jana@Acme.example.com").as_deref(),
            Some("acme.example.com")
        );
        assert_eq!(company_domain("jana@gmail.com"), None);
        assert_eq!(company_domain("jana@GMX.de"), None);
        assert_eq!(company_domain("nobody"), None);
        assert_eq!(company_domain("nobody@"), None);
    }

    #[test]
    fn typed_domains_are_checked() {
        assert_eq!(
            parse_company_domain(" @Acme.Example ").unwrap(),
            "acme.example"
        );
        assert!(parse_company_domain("acme").is_err());
        assert!(parse_company_domain("ac me.example").is_err());
        assert!(parse_company_domain("-acme.example").is_err());
        assert!(parse_company_domain("acme..example").is_err());
        assert!(
            parse_company_domain("gmail.com")
                .unwrap_err()
                .contains("free-mail")
        );
    }
}
