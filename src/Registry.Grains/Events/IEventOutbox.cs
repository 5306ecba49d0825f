using Registry.Abstractions;

namespace Registry.Grains.Events;

/// <summary>
/// Where a silo keeps, in storage, the lifecycle notifications it has raised and the event stream has not yet taken, so
/// that a silo killed with some still waiting does not lose them: another silo sends them once the cluster counts it
/// dead (README "Lifecycle notifications", "What is guaranteed"). Durable mode only; the embedded registry keeps none
/// (<see cref="NoEventOutbox"/>), as its memory streams die with the silo anyway.
/// </summary>
public interface IEventOutbox
{
    /// <summary>Stores <paramref name="registryEvent"/> under this silo; completes once storage acknowledged it, or throws.</summary>
    Task<OutboxEntry?> Add(RegistryEvent registryEvent);

    /// <summary>The stream took the event of <paramref name="entry"/>: its row goes, in the background (grouped, never awaited by a write).</summary>
    void Remove(OutboxEntry entry);
}

/// <summary>One stored notification: its row under its silo's key.</summary>
public sealed record OutboxEntry(string Owner, string RowKey);

/// <summary>The embedded registry's outbox: none; a notification waits in its silo's memory only.</summary>
public sealed class NoEventOutbox : IEventOutbox
{
    private static readonly Task<OutboxEntry?> Nothing = Task.FromResult<OutboxEntry?>(null);

    public Task<OutboxEntry?> Add(RegistryEvent registryEvent) => Nothing;

    public void Remove(OutboxEntry entry)
    {
    }
}
