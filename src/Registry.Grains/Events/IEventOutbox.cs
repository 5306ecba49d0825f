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
    /// <summary>
    /// Starts storing <paramref name="registryEvent"/> under this silo. Its entry is known at once (null: no outbox), so a
    /// row whose store timed out yet landed can still be removed; <see cref="OutboxWrite.Stored"/> completes once
    /// storage acknowledged it, or faults. A <paramref name="check"/> (<see cref="OutboxChecks"/>) makes it a row to
    /// verify: sent only once storage shows its write landed.
    /// </summary>
    OutboxWrite Add(RegistryEvent registryEvent, string? check = null);

    /// <summary>The stream took the event of <paramref name="entry"/>: its row goes, in the background (grouped, never awaited by a write).</summary>
    void Remove(OutboxEntry entry);
}

/// <summary>One stored notification: its row under its silo's key.</summary>
public sealed record OutboxEntry(string Owner, string RowKey);

/// <summary>A row being stored: its entry (null without an outbox) and the store's outcome.</summary>
public readonly record struct OutboxWrite(OutboxEntry? Entry, Task Stored);

/// <summary>
/// What a row to verify checks before it is sent: the notification of a write whose outcome was not known when its call
/// answered (a storage timeout), sent only if storage shows the write landed.
/// </summary>
public static class OutboxChecks
{
    /// <summary>A create: landed when the device is stored with this generation.</summary>
    public static string Present(string generationId) => "present:" + generationId;

    /// <summary>A delete: landed when the device is no longer stored with this generation.</summary>
    public static string Absent(string generationId) => "absent:" + generationId;

    /// <summary>
    /// The row a routed create or delete stores before its write (<paramref name="check"/> says what landing means): a
    /// silo that dies after the write landed but before the stream took the event leaves it, and a sweep sends it once
    /// that silo is gone and storage shows the write landed. While its silo lives it is that silo's to remove or send.
    /// </summary>
    public static string Intent(string check) => IntentPrefix + check;

    /// <summary>Whether <paramref name="check"/> is an <see cref="Intent"/>'s: swept only once its silo is gone.</summary>
    public static bool IsIntent(string check) => check.StartsWith(IntentPrefix, StringComparison.Ordinal);

    private const string IntentPrefix = "intent:";

    /// <summary>Whether the write <paramref name="check"/> describes landed, given the device's stored generation (null: none stored).</summary>
    public static bool Landed(string check, string? storedGeneration) => check.Split(':', 2) switch
    {
        ["present", var generation] => string.Equals(storedGeneration, generation, StringComparison.Ordinal),
        ["absent", var generation] => !string.Equals(storedGeneration, generation, StringComparison.Ordinal),
        ["intent", var inner] => Landed(inner, storedGeneration),
        _ => false,
    };
}

/// <summary>The embedded registry's outbox: none; a notification waits in its silo's memory only.</summary>
public sealed class NoEventOutbox : IEventOutbox
{
    public OutboxWrite Add(RegistryEvent registryEvent, string? check = null) => new(null, Task.CompletedTask);

    public void Remove(OutboxEntry entry)
    {
    }
}
