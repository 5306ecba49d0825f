namespace Registry.Grains;

/// <summary>The named grain storages the grains persist into; the host decides what backs each name.</summary>
public static class StorageNames
{
    /// <summary>Device identities (one small record per device).</summary>
    public const string Registry = "registry";

    /// <summary>The index's layout record (its partition count); the entries themselves go through <see cref="Index.IIndexStore"/>.</summary>
    public const string Index = "registry-index";

    /// <summary>Import/export jobs: each job's state and checkpoint, and the list of jobs.</summary>
    public const string Jobs = "registry-jobs";

    /// <summary>The cluster's shared access policies (durable mode: every gateway's one source of keys).</summary>
    public const string Access = "registry-access";
}
