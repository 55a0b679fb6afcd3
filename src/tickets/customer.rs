//! What a ticket page says about its customer beyond the address itself.

/// Free-mail providers: their domain names no company.
const FREE_MAIL: [&str; 12] = [
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

/// The customer's company, taken from their address's domain, lower-cased
/// (`jana@Acme.example.com` → `acme.example.com`); empty for free-mail providers and for a
/// string without `@`.
pub fn company_of(email: &str) -> String {
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.to_lowercase())
        .unwrap_or_default();
    if FREE_MAIL.contains(&domain.as_str()) {
        String::new()
    } else {
        domain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_is_the_domain_unless_it_is_free_mail() {
        assert_eq!(company_of("jana@Acme.example.com"), "acme.example.com");
        assert_eq!(company_of("jana@gmail.com"), "");
        assert_eq!(company_of("nobody"), "");
    }
}
