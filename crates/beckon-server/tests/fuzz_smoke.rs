//! The short fuzz run in CI: every fuzz target's checks (fuzz/checks, the same code the cargo-fuzz
//! targets run for hours) over the committed corpora in fuzz/seeds, then over random mutations of
//! them — byte flips, JSON-ish tokens, splices of two inputs, deletions and repeats. Not coverage
//! guided (that is what the long libFuzzer runs are for, docs/fuzzing.md), but it runs in every
//! test-suite run without a nightly compiler or a sanitizer build, and a regression on an input the
//! long runs kept fails here.
//!
//! The mutations are reproducible: a failure prints the input and `BECKON_FUZZ_SEED` to rerun it;
//! `BECKON_FUZZ_ROUNDS` runs more (default 20,000 per target).

#[path = "../../../fuzz/checks/mod.rs"]
mod checks;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

/// xorshift64*: reproducible from one number, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces that move a JSON parser into its corners.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "\\",
    "\\u0000",
    "\\ud800",
    "null",
    "true",
    "false",
    "-0",
    "1e308",
    "-1e-400",
    "18446744073709551616",
    "9007199254740993",
    "0.1",
    "\"type\"",
    "\"rid\"",
    "\"value\"",
    "\"isDisplayable\"",
    "\u{0}",
    "\u{feff}",
    "é",
    "𝄞",
    "*",
    "**",
    "?",
    "(?i)",
    ".*",
    "((((",
    "$",
    "{{",
    "}}",
    "Mon-Fri 09:00-17:00",
    "Europe/Paris",
    "=",
    "~",
    "!",
];

fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, t.iter().copied());
            }
            3 if !out.is_empty() => {
                let end = (at + rng.below(16) + 1).min(out.len());
                out.drain(at.min(end)..end);
            }
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let to = (from + rng.below(64) + 1).min(other.len());
                out.splice(at..at, other[from..to].iter().copied());
            }
            5 if !out.is_empty() => {
                // Repeat a piece: deep nesting, long strings, many keys.
                let from = rng.below(out.len());
                let to = (from + rng.below(8) + 1).min(out.len());
                let piece = out[from..to].to_vec();
                let times = 1 + rng.below(64);
                for _ in 0..times {
                    out.splice(to..to, piece.iter().copied());
                }
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.extend_from_slice(t);
            }
        }
    }
    out
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} is missing: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    let inputs: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).expect("a corpus file")).collect();
    assert!(inputs.len() > 100, "the {target} corpus has only {} inputs", inputs.len());
    inputs
}

fn run(target: &str, check: fn(&[u8])) {
    let inputs = corpus(target);
    let one = |input: &[u8], what: &str| {
        if catch_unwind(AssertUnwindSafe(|| check(input))).is_err() {
            panic!("{target} failed on {what}: {:?}\n(bytes: {input:?})", String::from_utf8_lossy(input));
        }
    };
    for input in &inputs {
        one(input, "a corpus input");
    }
    let seed: u64 =
        std::env::var("BECKON_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_beca);
    let rounds: usize =
        std::env::var("BECKON_FUZZ_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let mut rng = Rng(seed ^ target.len() as u64 | 1);
    for round in 0..rounds {
        let a = &inputs[rng.below(inputs.len())];
        let b = &inputs[rng.below(inputs.len())];
        let input = mutate(&mut rng, a, b);
        one(&input, &format!("mutation {round} (BECKON_FUZZ_SEED={seed})"));
    }
}

#[test]
fn visitor_frames() {
    run("visitor_frame", checks::visitor_frame);
}

#[test]
fn agent_frames() {
    run("agent_frame", checks::agent_frame);
}

#[test]
fn trigger_rules() {
    run("trigger_rules", checks::trigger_rules);
}

#[test]
fn contexts() {
    run("context", checks::context);
}
