//! A python script run as a child process and driven over its standard input: one line in,
//! one JSON line out. The benchmarks use it to time PyTorch and onnxruntime in the same run
//! as their own side, so every side sees the same machine load.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::error::{Error, Result};

/// A running script; killed when dropped.
pub struct Script {
    program: PathBuf,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    /// What to tell the user when the script does not answer (a missing package, say).
    silent: String,
    /// The first line the script wrote (its versions and settings).
    pub hello: serde_json::Value,
}

impl Script {
    /// Runs `source` with `program` (a python) and `args`, and reads its first JSON line.
    pub fn start(program: &Path, source: &str, args: &[String], silent: &str) -> Result<Self> {
        let mut child = Command::new(program)
            .arg("-c")
            .arg(source)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(program, e))?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(fail(program, "no pipes to the child"));
        };
        let mut script = Self {
            program: program.to_path_buf(),
            child,
            input,
            output: BufReader::new(output),
            silent: silent.to_string(),
            hello: serde_json::Value::Null,
        };
        script.hello = script.answer()?;
        Ok(script)
    }

    fn answer(&mut self) -> Result<serde_json::Value> {
        let mut line = String::new();
        self.output
            .read_line(&mut line)
            .map_err(|e| Error::io(&self.program, e))?;
        serde_json::from_str(&line).map_err(|_| fail(&self.program, self.silent.clone()))
    }

    /// Sends one line and returns the script's answer.
    pub fn ask(&mut self, line: &str) -> Result<serde_json::Value> {
        writeln!(self.input, "{line}").map_err(|e| Error::io(&self.program, e))?;
        self.answer()
    }

    /// Sends one line and returns the number `key` of the answer.
    pub fn ask_number(&mut self, line: &str, key: &str) -> Result<f64> {
        let answer = self.ask(line)?;
        answer[key]
            .as_f64()
            .ok_or_else(|| fail(&self.program, format!("unexpected answer {answer}")))
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fail(program: &Path, reason: impl Into<String>) -> Error {
    Error::Baseline {
        program: program.to_path_buf(),
        reason: reason.into(),
    }
}
