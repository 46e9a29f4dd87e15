using Grace.Data;
using Grace.Data.Entities;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Grace.Web.Identity;

/// <summary>What a sign-in attempt came to.</summary>
public enum SignInOutcome
{
    SignedIn,
    Wrong,
    LockedOut,
    NotAllowed,
}

/// <summary>
/// Checks a user name and password with two guarantees Identity's own sign-in lacks:
/// <list type="bullet">
/// <item>The lockout holds under parallel guesses, across instances. Before a password is checked,
/// the attempt is counted by one conditional UPDATE in the database (<c>AccessFailedCount + 1 WHERE
/// AccessFailedCount &lt; max</c>): at most <c>MaxFailedAccessAttempts</c> checks can be in flight or
/// done before the lockout, however many guesses arrive at once. Identity reads the count, checks,
/// and writes it back, so parallel guesses overwrite each other's counts.</item>
/// <item>An unknown user, a locked-out one and a known one take the same time to refuse: the
/// password is checked against a stand-in hash when there is no real one to check, so the answer's
/// timing does not tell which user names exist.</item>
/// </list>
/// </summary>
public sealed class PasswordSignIn(
    UserManager<GraceUser> users,
    SignInManager<GraceUser> signIn,
    IDbContextFactory<GraceDbContext> dbFactory,
    TimeProvider time)
{
    // Made once per process, as slow as a real one (the same hasher and settings).
    private static string? _standIn;

    public async Task<SignInOutcome> SignInAsync(string userName, string password, CancellationToken cancellationToken = default)
    {
        var (outcome, user) = await CheckAsync(userName, password, cancellationToken);
        if (outcome == SignInOutcome.SignedIn)
        {
            await signIn.SignInAsync(user!, isPersistent: false);
        }

        return outcome;
    }

    /// <summary>Checks the password of <paramref name="userName"/>, counting a failure towards the lockout; signs nobody in.</summary>
    public async Task<(SignInOutcome Outcome, GraceUser? User)> CheckAsync(string userName, string password, CancellationToken cancellationToken = default)
    {
        var user = await users.FindByNameAsync(userName);
        if (user is null)
        {
            StandInCheck(password);
            return (SignInOutcome.Wrong, null);
        }

        var lockout = users.Options.Lockout;
        var max = lockout.MaxFailedAccessAttempts;
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var row = await db.Users.AsNoTracking().Where(u => u.Id == user.Id)
            .Select(u => new { u.AccessFailedCount, u.LockoutEnd, u.LockoutEnabled }).SingleAsync(cancellationToken);
        if (row.LockoutEnd > now)
        {
            StandInCheck(password);
            return (SignInOutcome.LockedOut, user);
        }

        if (!row.LockoutEnabled)
        {
            return (await users.CheckPasswordAsync(user, password) ? await AllowedAsync(user) : SignInOutcome.Wrong, user);
        }

        if (row.LockoutEnd is not null && row.AccessFailedCount >= max)
        {
            // A lockout that has run out: attempts count afresh. Any of several racing requests may do it.
            await db.Users.Where(u => u.Id == user.Id && u.AccessFailedCount >= max && u.LockoutEnd != null && u.LockoutEnd <= now)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.AccessFailedCount, 0), cancellationToken);
        }

        // The attempt is counted before its password is checked, and the one that uses the last permitted
        // attempt locks the account in the same statement: a guess arriving meanwhile finds it locked.
        var until = now + lockout.DefaultLockoutTimeSpan;
        var reserved = await db.Users
            .Where(u => u.Id == user.Id && u.AccessFailedCount < max && (u.LockoutEnd == null || u.LockoutEnd <= now))
            .ExecuteUpdateAsync(s => s
                .SetProperty(u => u.LockoutEnd, u => u.AccessFailedCount + 1 >= max ? until : u.LockoutEnd)
                .SetProperty(u => u.AccessFailedCount, u => u.AccessFailedCount + 1), cancellationToken);
        if (reserved == 0)
        {
            // Locked, or every permitted attempt is taken by guesses still being checked: this one is not checked at all.
            StandInCheck(password);
            return (SignInOutcome.LockedOut, user);
        }

        if (await users.CheckPasswordAsync(user, password))
        {
            // The right password clears the count, and a lockout only these attempts set (never a disabled person's "forever").
            await db.Users.Where(u => u.Id == user.Id && (u.LockoutEnd == null || u.LockoutEnd <= until))
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.AccessFailedCount, 0).SetProperty(u => u.LockoutEnd, (DateTimeOffset?)null), cancellationToken);
            return (await AllowedAsync(user), user);
        }

        var after = await db.Users.AsNoTracking().Where(u => u.Id == user.Id).Select(u => u.LockoutEnd).SingleAsync(cancellationToken);
        if (after > now)
        {
            return (SignInOutcome.LockedOut, user);
        }

        return (SignInOutcome.Wrong, user);
    }

    private async Task<SignInOutcome> AllowedAsync(GraceUser user) => await signIn.CanSignInAsync(user) ? SignInOutcome.SignedIn : SignInOutcome.NotAllowed;

    private void StandInCheck(string password)
    {
        var hasher = users.PasswordHasher;
        var standIn = new GraceUser { UserName = "stand-in" };
        _standIn ??= hasher.HashPassword(standIn, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)));
        hasher.VerifyHashedPassword(standIn, _standIn, password);
    }
}
