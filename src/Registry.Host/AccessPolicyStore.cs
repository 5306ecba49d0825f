using System.Text.Json;
using System.Text.Json.Serialization;
using Registry.Gateway;
using Registry.Gateway.Security;

namespace Registry.Host;

/// <summary>One policy as written in <c>access-policies.json</c>; rights as a readable list of names.</summary>
public sealed record AccessPolicyEntry(
    [property: JsonPropertyName("keyName")] string KeyName,
    [property: JsonPropertyName("primaryKey")] string PrimaryKey,
    [property: JsonPropertyName("secondaryKey")] string? SecondaryKey,
    [property: JsonPropertyName("rights")] string Rights);

/// <summary>The whole <c>access-policies.json</c>.</summary>
public sealed record AccessPolicyDocument([property: JsonPropertyName("policies")] IReadOnlyList<AccessPolicyEntry> Policies);

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(AccessPolicyDocument))]
internal sealed partial class AccessPolicyJsonContext : JsonSerializerContext;

/// <summary>What <see cref="AccessPolicyStore.Load"/> decided, for the host to log.</summary>
/// <param name="Policies">The effective policies: the file's, with configured ones replacing or adding by name.</param>
/// <param name="GeneratedOwner">The owner policy when this start generated it (its key was never shown before), else null.</param>
/// <param name="FilePath">Where the generated policies live.</param>
/// <param name="FileIsShared">True when the file is readable or writable by anyone but its owner.</param>
public sealed record AccessPolicyLoad(SharedAccessPolicies Policies, SharedAccessPolicy? GeneratedOwner, string FilePath, bool FileIsShared);

/// <summary>
/// Where the registry's shared access policies come from. The first start on a fresh data folder generates IoT Hub's
/// default policies with random 32-byte keys into <c>&lt;DataFolder&gt;/access-policies.json</c> (mode 0600); later
/// starts reuse the file, so connection strings handed out stay valid. Policies under <c>Registry:AccessPolicies</c>
/// win over the file (to pin keys for scripts or to give every silo of a cluster the same keys); they are never written
/// to the file. An unreadable file stops the start rather than silently rotating every key.
/// </summary>
public static class AccessPolicyStore
{
    public const string FileName = "access-policies.json";

    /// <summary>The policies a start on <paramref name="dataFolder"/> uses: the file's (generated on a fresh folder), with <paramref name="configured"/> ones winning.</summary>
    /// <param name="dataFolder">The registry's data folder, holding <see cref="FileName"/>.</param>
    /// <param name="configured">Policies from <c>Registry:AccessPolicies</c>, by key name.</param>
    /// <param name="clock">How long <see cref="ReadWhenComplete"/> waits for a racing start's file; the system clock by default.</param>
    public static AccessPolicyLoad Load(string dataFolder, IReadOnlyDictionary<string, AccessPolicySettings> configured, TimeProvider? clock = null)
    {
        Directory.CreateDirectory(dataFolder);
        var path = Path.Combine(dataFolder, FileName);
        var created = false;
        SharedAccessPolicies fromFile;
        try
        {
            if (Directory.Exists(path))
            {
                throw new IOException("It is a directory.");
            }
            if (!File.Exists(path))
            {
                created = TryCreate(path, SharedAccessPolicies.GenerateDefaults());
            }
            fromFile = created ? Read(path) : ReadWhenComplete(path, clock ?? TimeProvider.System);
        }
        catch (IOException e)
        {
            // A directory in its place, a link to nothing, a file still locked after the wait: one line, not a crash.
            throw new RegistryStartupException($"The access policy file {path} cannot be read: {e.Message} Nothing was started.", e);
        }
        var policies = fromFile.All.ToDictionary(p => p.KeyName, StringComparer.Ordinal);
        foreach (var (name, settings) in configured)
        {
            try
            {
                policies[name] = settings.ToPolicy(name);
            }
            catch (ArgumentException e)
            {
                throw new RegistryStartupException($"Registry:AccessPolicies:{name} is not usable: {Sentence(e)} Nothing was started.", e);
            }
        }
        var effective = new SharedAccessPolicies(policies.Values);
        SharedAccessPolicy? generatedOwner = null;
        if (created && fromFile.TryGet(SharedAccessPolicy.OwnerKeyName, out var owner)
            && effective.TryGet(SharedAccessPolicy.OwnerKeyName, out var used) && ReferenceEquals(owner, used))
        {
            generatedOwner = owner;
        }
        var shared = !OperatingSystem.IsWindows()
            && (File.GetUnixFileMode(path) & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite)) != 0;
        return new AccessPolicyLoad(effective, generatedOwner, path, shared);
    }

    /// <summary>Reads a policy file; throws <see cref="RegistryStartupException"/> naming the file when it cannot be used (none, or no rights, included).</summary>
    public static SharedAccessPolicies Read(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var document = JsonSerializer.Deserialize(stream, AccessPolicyJsonContext.Default.AccessPolicyDocument);
            var policies = new SharedAccessPolicies((document?.Policies ?? []).Select(e => e is null ? throw new ArgumentException("a policy entry is empty.") : ToPolicy(e)));
            // A file nobody can use would answer every request 401 with nothing logged: refused like a broken one.
            if (!policies.All.Any())
            {
                throw new ArgumentException("it lists no policy.");
            }
            if (policies.All.All(p => p.Rights == AccessRights.None))
            {
                throw new ArgumentException("no policy in it grants any right.");
            }
            return policies;
        }
        catch (UnauthorizedAccessException e)
        {
            throw new RegistryStartupException($"The access policy file {path} cannot be read: {e.Message} Give the registry's user access to it. Nothing was started.", e);
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new RegistryStartupException($"The access policy file {path} is not usable: {Sentence(e)} " +
                "Fix it, or delete it to generate new keys (every connection string handed out so far stops working).", e);
        }
    }

    /// <summary>
    /// Writes <paramref name="policies"/> to a new file readable only by its owner; false when one appeared meanwhile.
    /// The file is created exclusively (O_EXCL) and held locked while it is written, so of several hosts starting on
    /// one fresh folder exactly one writes it; the others wait for it in <see cref="ReadWhenComplete"/>.
    /// (A temp file moved into place with <c>File.Move(overwrite: false)</c> let two racing starts both "win" on this
    /// machine's file system; the racing-starts test caught it.)
    /// </summary>
    /// <param name="path">The file to create.</param>
    /// <param name="policies">What it holds.</param>
    /// <param name="open">Opens the file (a <see cref="FileStream"/> by default): a test plays a racing start through it.</param>
    public static bool TryCreate(string path, SharedAccessPolicies policies, Func<string, FileStreamOptions, FileStream>? open = null)
    {
        open ??= static (file, how) => new FileStream(file, how);
        var document = new AccessPolicyDocument(policies.All.Select(p =>
            new AccessPolicyEntry(p.KeyName, p.PrimaryKey, p.SecondaryKey, SharedAccessPolicy.FormatRights(p.Rights))).ToArray());
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // Created 0600 from the first byte: the keys are never readable by others, not even briefly.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        FileStream stream;
        try
        {
            stream = open(path, options);
        }
        catch (IOException e) when (e.HResult == SharingViolation)
        {
            // Created, but not locked: .NET locks the file (flock) a moment after its exclusive create, and a racing start
            // that saw the file in that moment held it for a read. Only the creator gets past the create, so the empty file
            // is this start's and nobody else will write it: open it again once that read is done.
            stream = OpenCreatedWhenUnlocked(path, open);
        }
        catch (IOException) when (File.Exists(path))
        {
            return false; // another process sharing the folder won the race: use its keys
        }
        using (stream)
        {
            JsonSerializer.Serialize(stream, document, AccessPolicyJsonContext.Default.AccessPolicyDocument);
            stream.Flush(flushToDisk: true);
        }
        return true;
    }

    /// <summary>
    /// The HResult of .NET's IOException for a file another handle holds locked: Windows' ERROR_SHARING_VIOLATION, elsewhere
    /// flock's errno EWOULDBLOCK (11 on Linux, 35 on macOS and the BSDs).
    /// </summary>
    private static readonly int SharingViolation = OperatingSystem.IsWindows() ? unchecked((int)0x80070020) : OperatingSystem.IsLinux() ? 11 : 35;

    /// <summary>
    /// Opens for writing, locked, the empty file this start created: a racing start's read holds it for microseconds, so
    /// the lock is taken within milliseconds; five seconds without it is reported as the file being unusable.
    /// </summary>
    private static FileStream OpenCreatedWhenUnlocked(string path, Func<string, FileStreamOptions, FileStream> open)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return open(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Write, Share = FileShare.None });
            }
            catch (IOException e) when (e.HResult == SharingViolation && waited.Elapsed < TimeSpan.FromSeconds(5))
            {
                Thread.Sleep(1);
            }
        }
    }

    /// <summary>
    /// Reads the file another starting host may still be writing: while it is locked or still empty, tries again for a
    /// few seconds before reporting it unusable.
    /// </summary>
    /// <remarks>
    /// Only what a racing writer explains is waited for: the file held locked while it is written (an IOException), or
    /// still empty between its exclusive creation and that lock. A file with content that cannot be used is refused at
    /// once (it was retried for 5 s, since its refusal is an InvalidOperationException too, so every start on a broken
    /// file waited 5 s before saying so).
    /// </remarks>
    private static SharedAccessPolicies ReadWhenComplete(string path, TimeProvider clock)
    {
        var deadline = clock.GetUtcNow().AddSeconds(5);
        while (true)
        {
            try
            {
                return Read(path);
            }
            catch (Exception e) when ((e is IOException and not FileNotFoundException and not DirectoryNotFoundException || e is RegistryStartupException && IsEmpty(path))
                && clock.GetUtcNow() < deadline)
            {
                Thread.Sleep(20);
            }
        }
    }

    /// <summary>The reason as one sentence: without .NET's "(Parameter 'x')" suffix, ending with a full stop.</summary>
    internal static string Sentence(Exception e)
    {
        var text = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
        return text.TrimEnd().EndsWith('.') ? text.TrimEnd() : text.TrimEnd() + ".";
    }

    private static bool IsEmpty(string path)
    {
        try
        {
            return new FileInfo(path).Length == 0;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static SharedAccessPolicy ToPolicy(AccessPolicyEntry entry) =>
        new(entry.KeyName, entry.PrimaryKey, entry.SecondaryKey, ParseRights(entry.KeyName, entry.Rights));

    internal static AccessRights ParseRights(string keyName, string? rights) =>
        SharedAccessPolicy.TryParseRights(rights, out var parsed)
            ? parsed
            : throw new ArgumentException($"Policy '{keyName}' has rights '{rights}'; expected a comma-separated list of " +
                "RegistryRead, RegistryWrite, ServiceConnect, DeviceConnect.");
}

/// <summary>
/// A policy pinned by configuration, e.g. <c>Registry__AccessPolicies__iothubowner__PrimaryKey=&lt;base64&gt;</c>.
/// The key name is the configuration key; <see cref="Rights"/> defaults to IoT Hub's for the five default names.
/// </summary>
public sealed class AccessPolicySettings
{
    public string? PrimaryKey { get; set; }

    public string? SecondaryKey { get; set; }

    /// <summary>Comma-separated right names; required for a name that is not one of IoT Hub's defaults.</summary>
    public string? Rights { get; set; }

    public SharedAccessPolicy ToPolicy(string keyName)
    {
        if (string.IsNullOrEmpty(PrimaryKey))
        {
            throw new ArgumentException($"Registry:AccessPolicies:{keyName} needs a PrimaryKey.");
        }
        var rights = Rights is null && SharedAccessPolicy.Defaults.Any(d => d.KeyName == keyName)
            ? SharedAccessPolicy.Defaults.First(d => d.KeyName == keyName).Rights
            : AccessPolicyStore.ParseRights(keyName, Rights);
        return new SharedAccessPolicy(keyName, PrimaryKey, SecondaryKey, rights);
    }
}
