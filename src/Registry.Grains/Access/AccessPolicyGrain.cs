using Orleans.Storage;
using Registry.Abstractions;

namespace Registry.Grains.Access;

/// <summary>The cluster's shared access policies in <see cref="StorageNames.Access"/>; see <see cref="IAccessPolicyGrain"/>.</summary>
public sealed class AccessPolicyGrain(
    [PersistentState("policies", StorageNames.Access)] IPersistentState<AccessPolicyState> state) : Grain, IAccessPolicyGrain
{
    public Task<AccessPolicySet?> Get() => Task.FromResult(state.State.Policies);

    public async Task<AccessPolicySet> Initialize(AccessPolicySet proposed)
    {
        if (state.State.Policies is { } stored)
        {
            return stored;
        }
        if (proposed.Policies.Count == 0)
        {
            throw RegistryException.Invalid("An access policy set lists at least one policy.");
        }
        var set = proposed with { Version = 1 };
        try
        {
            await Write(set);
        }
        catch (Exception e) when ((e is InconsistentStateException || e.InnerException is InconsistentStateException) && state.State.Policies is { } landed)
        {
            // Another start's write (or this one's, answered too late) stored a set first: that one is the cluster's.
            return landed;
        }
        return set;
    }

    public async Task<AccessPolicySet> Regenerate(string keyName, AccessKeyKind key)
    {
        var stored = state.State.Policies;
        var index = stored?.Policies.ToList().FindIndex(p => p.KeyName == keyName) ?? -1;
        if (stored is null || index < 0)
        {
            throw new RegistryException(RegistryErrorCode.ArgumentInvalid, $"No shared access policy is named '{keyName}'.");
        }
        var policy = stored.Policies[index];
        var fresh = key == AccessKeyKind.Primary ? policy with { PrimaryKey = Base64Key.Generate() } : policy with { SecondaryKey = Base64Key.Generate() };
        var policies = stored.Policies.ToArray();
        policies[index] = fresh;
        var set = new AccessPolicySet(policies, stored.Version + 1);
        // Written before it is answered: a regeneration that was acknowledged is what every gateway reads next.
        await Write(set);
        return set;
    }

    /// <summary>
    /// Writes <paramref name="set"/>; a write that fails leaves this grain holding what storage holds, never the set it
    /// could not store (a write that timed out may still land: its ETag would then be stale, and the next write refused).
    /// </summary>
    private async Task Write(AccessPolicySet set)
    {
        state.State = new AccessPolicyState(set);
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            try
            {
                await state.ReadStateAsync();
            }
            catch
            {
                DeactivateOnIdle(); // storage is away: the next activation reads what it holds
            }
            throw;
        }
    }
}

/// <summary>The stored policy set; null until the first gateway proposed one.</summary>
[GenerateSerializer, Immutable, Alias("registry.AccessPolicyState")]
public sealed record AccessPolicyState([property: Id(0)] AccessPolicySet? Policies)
{
    public AccessPolicyState() : this((AccessPolicySet?)null)
    {
    }
}
