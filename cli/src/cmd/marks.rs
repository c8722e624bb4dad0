//! `hupsafe mark`, `unmark` and `marks`: edit and show the marks file
//! (its format and rules are [`crate::marks`]).

use std::os::unix::ffi::OsStrExt;

use crate::args::{MarkArgs, MarksArgs, UnmarkArgs};
use crate::error::{write_stdout, Error, Result, EXIT_BAD_INPUT};
use crate::marks::{invalid_reason, marks_path, names, parse, read, render, write, Line, HEADER};

/// `hupsafe mark NAME...`: adds the names not marked yet, at the end.
pub fn mark(args: &MarkArgs) -> Result<()> {
    let mut bad = Vec::new();
    for n in &args.names {
        if let Some(why) = invalid_reason(n) {
            bad.push(format!("cannot mark '{n}': {why}"));
        }
    }
    if !bad.is_empty() {
        return Err(Error::many(EXIT_BAD_INPUT, &bad));
    }
    let path = marks_path()?;
    let text = read(&path)?;
    let mut lines = if text.is_empty() {
        parse(HEADER)
    } else {
        parse(&text)
    };
    let mut marked = names(&lines);
    let mut changed = text.is_empty();
    for n in &args.names {
        if marked.contains(n) {
            continue;
        }
        if let crate::sys::exec::Lookup::Missing = crate::sys::exec::find_program(n.as_ref()) {
            say!("note: '{n}' is not a program on PATH here; marked anyway");
        }
        lines.push(Line::Mark(n.clone()));
        marked.push(n.clone());
        changed = true;
    }
    if changed {
        write(&path, &render(&lines))?;
    }
    Ok(())
}

/// `hupsafe unmark NAME...`: removes every line naming them; exits 1 if
/// one of them was not marked (after removing the others).
pub fn unmark(args: &UnmarkArgs) -> Result<()> {
    let path = marks_path()?;
    let text = read(&path)?;
    let lines = parse(&text);
    let marked = names(&lines);
    let missing: Vec<&String> = args.names.iter().filter(|n| !marked.contains(n)).collect();
    let kept: Vec<Line> = lines
        .into_iter()
        .filter(|l| !matches!(l, Line::Mark(n) if args.names.contains(n)))
        .collect();
    if missing.len() < args.names.len() {
        write(&path, &render(&kept))?;
    }
    if missing.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = missing.iter().map(|n| format!("'{n}'")).collect();
    Err(Error::new(
        1,
        format!("not marked: {} (see `hupsafe marks`)", list.join(", ")),
    ))
}

/// `hupsafe marks`: the marked names, one per line; lines the shells
/// ignore are reported on stderr.
pub fn list(args: &MarksArgs) -> Result<()> {
    let path = marks_path()?;
    if args.path {
        let mut line = path.as_os_str().as_bytes().to_vec();
        line.push(b'\n');
        return write_stdout(&line);
    }
    let text = read(&path)?;
    let lines = parse(&text);
    for (i, l) in lines.iter().enumerate() {
        if let Line::Invalid(raw) = l {
            let why = invalid_reason(raw.trim_matches([' ', '\t'])).unwrap_or_default();
            say!("{}:{}: '{}' is ignored: {why}", path.display(), i + 1, raw);
        }
    }
    let mut out = String::new();
    for n in names(&lines) {
        out.push_str(&n);
        out.push('\n');
    }
    write_stdout(out.as_bytes())
}
