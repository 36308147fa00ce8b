//! The commented `gardener.toml` written at install when none exists: every
//! key with its default, commented out, so people see what they can change.

/// Text of a fresh config file. Uncommenting every `# key = value` line gives
/// the defaults (a test checks this).
pub const TEMPLATE: &str = r#"# Gardener configuration.
# Every key is optional; the commented values are the defaults.
# After changing this file run `gardener install` to apply it to the services.

[ollama]
# The ollama executable. Found on PATH, in /opt/homebrew/bin, /usr/local/bin
# and inside /Applications/Ollama.app when not set.
# e.g. binary = "/usr/local/bin/ollama"
# Address Ollama listens on (OLLAMA_HOST). Only loopback addresses are allowed.
# host = "127.0.0.1:11434"
# Where models are stored (OLLAMA_MODELS).
# models_dir = "~/.ollama/models"
# Set to true to use an Ollama you run yourself (Ollama.app, brew services)
# instead of the one Gardener installs.
# external = false
# Linux only: soft and hard memory limits (systemd MemoryHigh/MemoryMax).
# Memory-mapped models count against them; leave unset unless you know the
# size of the largest model you load.
# e.g. memory_high = "6GiB"
# e.g. memory_max = "8GiB"

[ollama.env]
# Extra environment for Ollama, merged over these defaults.
# An empty value ("") removes a default.
# OLLAMA_FLASH_ATTENTION = "1"
# OLLAMA_KEEP_ALIVE = "5m"
# OLLAMA_KV_CACHE_TYPE = "q8_0"
# OLLAMA_MAX_LOADED_MODELS = "2"

[app]
# The Codebase Gardener command line. The program is looked up on PATH.
# command = ["codebase-gardener", "serve", "--host", "127.0.0.1", "--port", "7860"]
# working_dir = "~"
# health_url = "http://127.0.0.1:7860/"
# Linux only: soft and hard memory limits.
# memory_high = "2GiB"
# memory_max = "3GiB"

[app.env]
# CODEBASE_GARDENER_DATA_DIR = "~/.codebase-gardener"
# CODEBASE_GARDENER_OLLAMA_BASE_URL is derived from [ollama] host unless set.

[paths]
# Gardener's own data, the services' logs and backups. Platform defaults:
# Linux: ~/.local/share/gardener, ~/.local/state/gardener/logs,
#        ~/.local/share/gardener/backups
# macOS: ~/Library/Application Support/Gardener, ~/Library/Logs/Gardener,
#        ~/Library/Application Support/Gardener/Backups
# e.g. data = "/srv/gardener"
# e.g. logs = "/var/tmp/gardener-logs"
# e.g. backups = "/Volumes/Backup/gardener"

[services]
# Seconds before a crashed service is started again (at least 2).
# restart_delay_secs = 5

[install]
# Installing refuses to start with less free disk than this.
# min_free_disk = "2GiB"
# How long installing waits for both services to become healthy.
# health_timeout_secs = 60

[backup]
# Where backups are written (default: [paths] backups).
# e.g. destination = "/Volumes/Backup/gardener"
# The data backed up, each under its own name inside the archive. A source
# that is missing or empty fails the backup unless it has `optional = true`.
# sources = [{ name = "app-data", path = "~/.codebase-gardener" }]
# Also back up gardener.toml and Gardener's service files.
# include_gardener = true
# Also back up Ollama's model list (small; enough to pull the models again).
# include_ollama_manifests = true
# Also back up the models themselves (many GB; stored without compression).
# include_model_blobs = false
# Left out of every backup: a name anywhere ("*.pyc"), or a path inside the
# archive ("app-data/cache/**").
# exclude = ["__pycache__", "*.pyc", ".DS_Store"]
# zstd level, 1 (fastest) to 19 (smallest), and compression threads (0 = one
# per core).
# level = 3
# threads = 0
# Stop the app while its data is copied so the copy is consistent, then start
# it again. On APFS, btrfs and XFS it is stopped only for about a second.
# pause_app = true
# Read every new backup back and check it.
# verify = true
# Backups store only the files that changed since the one before, in chains
# that start with a full backup. A new chain starts when its full backup is
# this old ("7d"), after this many backups (7), or every time ("always").
# full_every = "7d"
# When scheduled backups run: "daily HH:MM", "weekly DAY HH:MM" or "off".
# Run `gardener install` after changing it.
# schedule = "daily 03:00"

[backup.retention]
# What `gardener backup prune` keeps: the newest N backups, and the newest
# backup of each of the last N days, weeks and months that have one. The
# newest verified backup is always kept.
# keep_last = 3
# keep_daily = 7
# keep_weekly = 4
# keep_monthly = 6

[alerts]
# Set to false to silence every notification. Alerts are still evaluated,
# shown in the menu and kept in the history.
# enabled = true
# Silence notifications until this UTC time; alerts are still recorded.
# e.g. mute_until = "2026-11-25T18:00:00Z"
#
# Every rule has the keys below. An alert fires when the value stays above
# `threshold` for `for_secs` seconds, and resolves only once the value is back
# to or below `clear` (at most the threshold, so a value hovering near it does
# not flap). While it keeps firing the notification is repeated every
# `cooldown_secs` seconds (0 means never); `recovery` notifies when it
# resolves; `enabled = false` turns the rule off.

[alerts.cpu]
# CPU use of the whole machine, in percent.
# enabled = true
# threshold = 80
# clear = 70
# for_secs = 120
# cooldown_secs = 3600
# recovery = true

[alerts.memory]
# Memory in use, in percent.
# enabled = true
# threshold = 80
# clear = 75
# for_secs = 60
# cooldown_secs = 3600
# recovery = true

[alerts.swap]
# Swap in use, in percent of the swap configured (never fires without swap).
# enabled = true
# threshold = 50
# clear = 40
# for_secs = 300
# cooldown_secs = 3600
# recovery = true

[alerts.disk]
# The volume holding Gardener's data, in percent full.
# enabled = true
# threshold = 90
# clear = 85
# for_secs = 0
# cooldown_secs = 21600
# recovery = true

[alerts.ollama_rss]
# Memory used by Ollama's processes. What to do when it fires besides
# notifying: "notify" (nothing more), "unload-idle" (unload models not in
# use) or "restart" (restart Ollama).
# enabled = true
# threshold = "5GiB"
# clear = "4608MiB"
# for_secs = 60
# cooldown_secs = 3600
# recovery = true
# action = "notify"

[alerts.app_rss]
# Memory used by the app's processes.
# enabled = true
# threshold = "2GiB"
# clear = "1792MiB"
# for_secs = 60
# cooldown_secs = 3600
# recovery = true

[alerts.service_down]
# Ollama or the app stopped, failed or crashed (even if restarted since).
# Services that are not installed are not watched. No threshold or clear.
# enabled = true
# for_secs = 0
# cooldown_secs = 3600
# recovery = true

[alerts.health_failing]
# A running service whose health check fails; for_secs is the startup grace.
# enabled = true
# for_secs = 30
# cooldown_secs = 3600
# recovery = true

[alerts.model_offloaded]
# A loaded model partly on the CPU: the percent of its size that is not in GPU
# memory, for the model with the most (never fires on a machine without a GPU).
# enabled = true
# threshold = 0
# clear = 0
# for_secs = 30
# cooldown_secs = 3600
# recovery = true

[alerts.backup_failed]
# The last backup attempt failed (fires at once; the next good backup clears it).
# enabled = true
# for_secs = 0
# cooldown_secs = 86400
# recovery = true

[alerts.copy_failed]
# The last copy to a target failed (one alert per target; the next copy that
# works clears it).
# enabled = true
# for_secs = 0
# cooldown_secs = 86400
# recovery = true

[alerts.copy_overdue]
# Hours since the last copy to a target (one alert per target).
# enabled = true
# threshold = 36
# cooldown_secs = 86400
# recovery = true

[alerts.backup_overdue]
# Hours since the last successful backup (clears when a backup completes).
# enabled = true
# threshold = 36
# for_secs = 0
# cooldown_secs = 86400
# recovery = true
"#;
