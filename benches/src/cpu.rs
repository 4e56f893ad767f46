//! CPU time of processes, from `/proc`: what the load generators report as CPU per request,
//! for the server measured and for the generator itself.

use std::time::Duration;

use anyhow::Context as _;

/// Process CPU time in user and in system mode, from `/proc/PID/stat`.
pub fn cpu_time(pid: &str, ticks_per_second: f64) -> anyhow::Result<Cpu> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it are plain numbers. utime and stime
    // are fields 14 and 15, the 12th and 13th after the name.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc stat format")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .context("short /proc stat line")?
            .parse()
            .context("bad /proc stat number")
    };
    Ok(Cpu {
        user: Duration::from_secs_f64(ticks(11)? as f64 / ticks_per_second),
        system: Duration::from_secs_f64(ticks(12)? as f64 / ticks_per_second),
    })
}

/// CPU time of a process, split by mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    /// In user mode.
    pub user: Duration,
    /// In system mode.
    pub system: Duration,
}

impl Cpu {
    /// User and system time together.
    pub fn total(self) -> Duration {
        self.user + self.system
    }

    /// The time spent since `earlier`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`), 100 when it cannot be asked.
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU time of the server and of this process, sampled together.
pub struct CpuSample {
    /// The server's, when its process id is known.
    pub server: Option<Cpu>,
    /// This process's.
    pub client: Cpu,
}

/// Samples the CPU time of a server process and of this one.
pub struct CpuMeter {
    /// The server's process id, if it is measured.
    pub server_pid: Option<String>,
    /// The kernel's clock ticks per second.
    pub ticks: f64,
}

impl CpuMeter {
    /// Both processes' CPU time now.
    pub fn sample(&self) -> anyhow::Result<CpuSample> {
        Ok(CpuSample {
            server: self
                .server_pid
                .as_deref()
                .map(|pid| cpu_time(pid, self.ticks))
                .transpose()?,
            client: cpu_time("self", self.ticks)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_time_is_readable() {
        let ticks = clock_ticks();
        assert!(ticks > 0.0);
        assert!(cpu_time("self", ticks).is_ok());
    }
}
