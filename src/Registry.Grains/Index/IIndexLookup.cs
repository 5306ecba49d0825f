namespace Registry.Grains.Index;

/// <summary>
/// Whether a partition holds an id: a device grain about to be created asks this instead of reading its absent state
/// from storage. Safe because a loaded partition is a superset of the stored devices (<see cref="IndexMembership"/>).
/// Grains-internal, like <see cref="IIndexVerification"/>.
/// </summary>
[Alias("registry.IIndexLookup")]
public interface IIndexLookup : IGrainWithIntegerKey
{
    [Alias("Contains")]
    Task<bool> Contains(string deviceId);
}
