//! Backups named as the windows name them (an id, or `latest`): checking
//! one and restoring one, each found in the backups folder first.

use super::{
    Cancel, Progress, RestoreOptions, RestoreReport, Result, VerifyReport, catalog, destination,
    restore, verify_recorded,
};
use crate::context::Context;

/// Reads backup `id` back and checks every file against its manifest,
/// recording the result for `list`.
pub fn verify_named(
    ctx: &Context,
    id: &str,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<VerifyReport> {
    let dest = destination(ctx);
    let path = catalog::resolve(&dest, id)?;
    verify_recorded(&dest, &path, cancel, progress)
}

/// Restores backup `id` with `opts` through the config's service manager
/// (with `dry_run`, says what would change and changes nothing).
pub fn restore_named(
    ctx: &Context,
    id: &str,
    opts: &RestoreOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RestoreReport> {
    let path = catalog::resolve(&destination(ctx), id)?;
    restore(ctx, ctx.manager().as_ref(), &path, opts, progress)
}
