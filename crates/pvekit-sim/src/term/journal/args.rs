//! `journalctl`'s command line (the options pvekit and people commonly use), parsed into a
//! [`Query`]; errors are journalctl's own texts.

/// `journalctl -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Short,
    ShortIso,
    ShortPrecise,
    ShortIsoPrecise,
    Cat,
    /// busybox syslogd's `/var/log/messages` lines.
    Syslog,
}

/// How many lines `journalctl -n` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lines {
    All,
    Last(usize),
    /// `-n +N`: the first N.
    First(usize),
}

/// The parsed `journalctl` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    pub follow: bool,
    pub units: Vec<String>,
    pub lines: Lines,
    pub format: Format,
    pub quiet: bool,
    pub hostname: bool,
}

impl Default for Query {
    fn default() -> Query {
        Query {
            follow: false,
            units: Vec::new(),
            lines: Lines::All,
            format: Format::Short,
            quiet: false,
            hostname: true,
        }
    }
}

/// A unit name as `-u` takes it: no suffix means `.service`.
fn unit_name(u: &str) -> String {
    if u.contains('.') {
        u.to_string()
    } else {
        format!("{u}.service")
    }
}

fn parse_lines(v: &str) -> Result<Lines, String> {
    if v == "all" {
        return Ok(Lines::All);
    }
    let bad = || format!("Failed to parse lines '{v}'");
    match v.strip_prefix('+') {
        Some(n) => n.parse().map(Lines::First).map_err(|_| bad()),
        None => v.parse().map(Lines::Last).map_err(|_| bad()),
    }
}

fn parse_format(v: &str) -> Result<Format, String> {
    Ok(match v {
        "short" => Format::Short,
        "short-iso" => Format::ShortIso,
        "short-precise" => Format::ShortPrecise,
        "short-iso-precise" => Format::ShortIsoPrecise,
        "cat" => Format::Cat,
        _ => return Err(format!("Unknown output format '{v}'.")),
    })
}

/// Whether `-n`'s optional argument may be taken from the next word (journalctl peeks at
/// it: a number, `+N` or `all`).
fn looks_like_lines(v: &str) -> bool {
    v == "all" || parse_lines(v).is_ok()
}

/// Parses `journalctl`'s command line (the options pvekit and people commonly use);
/// errors are journalctl's texts.
pub(crate) fn parse_args(args: &[String]) -> Result<Query, String> {
    let mut q = Query::default();
    let mut lines_set = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = |what: &str| -> Result<String, String> {
                if let Some(v) = inline.clone() {
                    return Ok(v);
                }
                let v = args
                    .get(i)
                    .cloned()
                    .ok_or_else(|| format!("journalctl: option '--{what}' requires an argument"))?;
                i += 1;
                Ok(v)
            };
            match name {
                "follow" => q.follow = true,
                "no-pager" | "no-tail" | "system" | "utc" | "full" | "all" | "merge" => {}
                "quiet" => q.quiet = true,
                "no-hostname" => q.hostname = false,
                "boot" => {}
                "unit" => q.units.push(unit_name(&value("unit")?)),
                "output" => q.format = parse_format(&value("output")?)?,
                "lines" => {
                    lines_set = true;
                    q.lines = match inline.clone() {
                        Some(v) => parse_lines(&v)?,
                        None if args.get(i).is_some_and(|v| looks_like_lines(v)) => {
                            i += 1;
                            parse_lines(&args[i - 1])?
                        }
                        None => Lines::Last(10),
                    };
                }
                _ => return Err(format!("journalctl: unrecognized option '{a}'")),
            }
            continue;
        }
        let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) else {
            return Err(format!("Failed to add match '{a}': Invalid argument"));
        };
        let chars: Vec<char> = shorts.chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            j += 1;
            let rest: String = chars[j..].iter().collect();
            match c {
                'f' => q.follow = true,
                'q' => q.quiet = true,
                'x' | 'a' | 'l' | 'm' => {}
                'b' => break,
                'u' | 'o' => {
                    let v = if rest.is_empty() {
                        let v = args.get(i).cloned().ok_or_else(|| {
                            format!("journalctl: option requires an argument -- '{c}'")
                        })?;
                        i += 1;
                        v
                    } else {
                        rest
                    };
                    if c == 'u' {
                        q.units.push(unit_name(&v));
                    } else {
                        q.format = parse_format(&v)?;
                    }
                    break;
                }
                'n' => {
                    lines_set = true;
                    q.lines = if !rest.is_empty() {
                        parse_lines(&rest)?
                    } else if args.get(i).is_some_and(|v| looks_like_lines(v)) {
                        i += 1;
                        parse_lines(&args[i - 1])?
                    } else {
                        Lines::Last(10)
                    };
                    break;
                }
                _ => return Err(format!("journalctl: invalid option -- '{c}'")),
            }
        }
    }
    if q.follow && !lines_set {
        q.lines = Lines::Last(10);
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        let q = parse_args(&args(&[
            "-f",
            "-u",
            "pveproxy",
            "-n",
            "5",
            "--no-pager",
            "-o",
            "short-iso",
        ]))
        .unwrap();
        assert!(q.follow);
        assert_eq!(q.units, vec!["pveproxy.service"]);
        assert_eq!(q.lines, Lines::Last(5));
        assert_eq!(q.format, Format::ShortIso);
        let q = parse_args(&args(&["-fn3", "--unit=cron.service", "--lines=+2"])).unwrap();
        assert_eq!(q.lines, Lines::First(2));
        assert_eq!(q.units, vec!["cron.service"]);
        assert_eq!(parse_args(&args(&["-f"])).unwrap().lines, Lines::Last(10));
        assert_eq!(parse_args(&args(&["-n"])).unwrap().lines, Lines::Last(10));
        assert_eq!(
            parse_args(&args(&["--bogus"])).unwrap_err(),
            "journalctl: unrecognized option '--bogus'"
        );
        assert_eq!(
            parse_args(&args(&["-n", "x", "-z"])).unwrap_err(),
            "Failed to add match 'x': Invalid argument"
        );
        assert_eq!(
            parse_args(&args(&["-o", "json"])).unwrap_err(),
            "Unknown output format 'json'."
        );
    }
}
