//! The README's command-line section cannot drift from `--help`: every subcommand of
//! `stagewatch --help` is shown, every flag the README names exists, flags the README
//! shows bare are required (in the usage line) and bracketed ones are not.

mod common;

use std::collections::BTreeSet;

/// (subcommand, [(flag, shown as optional)]) for each README line.
fn readme_commands() -> Vec<(String, Vec<(String, bool)>)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("## Command line").expect("a command-line section");
    let block = &readme[start..];
    let open = block.find("```\n").unwrap() + 4;
    let close = open + block[open..].find("```").unwrap();
    let mut cmds: Vec<(String, String)> = Vec::new();
    for line in block[open..close].lines() {
        // Drop trailing remarks in parentheses.
        let text = match line.find("   (") {
            Some(i) => &line[..i],
            None => line,
        };
        if let Some(rest) = text.strip_prefix("stagewatch ") {
            let (sub, args) = rest.split_once(' ').unwrap_or((rest, ""));
            cmds.push((sub.to_string(), args.to_string()));
        } else if let Some(last) = cmds.last_mut() {
            last.1.push(' ');
            last.1.push_str(text);
        }
    }
    cmds.into_iter()
        .map(|(sub, args)| {
            let mut flags = Vec::new();
            let mut depth = 0i32;
            let cs: Vec<char> = args.chars().collect();
            let mut i = 0;
            while i < cs.len() {
                match cs[i] {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    '-' if cs.get(i + 1) == Some(&'-') => {
                        let f: String = cs[i..]
                            .iter()
                            .take_while(|c| c.is_ascii_alphanumeric() || **c == '-')
                            .collect();
                        i += f.len();
                        flags.push((f, depth > 0));
                        continue;
                    }
                    _ => {}
                }
                i += 1;
            }
            (sub, flags)
        })
        .collect()
}

fn help(args: &[&str]) -> String {
    let o = common::run(args);
    assert!(o.status.success(), "{args:?}");
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn readme_command_line_matches_help() {
    let cmds = readme_commands();
    let shown: BTreeSet<&str> = cmds.iter().map(|(s, _)| s.as_str()).collect();
    let top = help(&["--help"]);
    let subs = top
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| *s != "help" && !s.is_empty())
        .collect::<Vec<_>>();
    // Flags shown bare on a line of their own although clap marks them optional: each
    // selects what `synth` does (`--out` is required unless `--list`).
    let modes = [
        ("synth", "--out"),
        ("synth", "--list"),
        ("synth", "--series"),
        ("synth", "--archive"),
    ];
    let mut wrong = Vec::new();
    for s in &subs {
        if !shown.contains(s) {
            wrong.push(format!("`{s}` is missing from the README's command line"));
        }
    }
    for (sub, flags) in &cmds {
        let h = help(&[sub, "--help"]);
        let usage = h.lines().find(|l| l.starts_with("Usage:")).unwrap().to_string();
        for (flag, optional) in flags {
            if flag == "--help" {
                continue;
            }
            if !(h.contains(&format!("{flag} ")) || h.contains(&format!("{flag}\n"))) {
                wrong.push(format!(
                    "README shows `{sub} {flag}`, which `{sub} --help` does not know"
                ));
                continue;
            }
            let required = usage.contains(&format!(" {flag} ")) || usage.ends_with(&format!(" {flag}"));
            let mode = modes.contains(&(sub.as_str(), flag.as_str()));
            if required == *optional && (*optional || !mode) {
                wrong.push(format!(
                    "README shows `{sub} {flag}` as {}, `--help` as {}",
                    if *optional { "optional" } else { "required" },
                    if required { "required" } else { "optional" }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn help_states_exit_codes_and_version_matches_plans() {
    let top = help(&["--help"]);
    for code in ["0 ", "1 ", "2 ", "3 ", "75 "] {
        assert!(top.contains("Exit codes:") && top.contains(code), "{top}");
    }
    let v = help(&["--version"]);
    assert_eq!(
        v.trim(),
        format!("stagewatch {}", stagewatch::batch::TOOL_VERSION)
    );
}
