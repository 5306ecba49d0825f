using Microsoft.Extensions.DependencyInjection;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// The silo's reminder table (whichever the registry configured: memory or Azure Table) behind a decorator a test
/// overrides one call of, to make reminders fail or never tick.
/// </summary>
public abstract class ReminderTableDecorator(IReminderTable inner) : IReminderTable
{
    /// <summary>Replaces the reminder table <paramref name="silo"/> registered with <paramref name="decorate"/> of it.</summary>
    public static void Replace(ISiloBuilder silo, Func<IReminderTable, IReminderTable> decorate)
    {
        var table = silo.Services.Last(d => d.ServiceType == typeof(IReminderTable));
        silo.Services.Remove(table);
        silo.Services.AddSingleton(sp => decorate(table.ImplementationFactory is { } factory
            ? (IReminderTable)factory(sp)
            : (IReminderTable)ActivatorUtilities.CreateInstance(sp, table.ImplementationType!)));
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => inner.StopAsync(cancellationToken);

    public Task<ReminderTableData> ReadRows(GrainId grainId) => inner.ReadRows(grainId);

    public virtual Task<ReminderTableData> ReadRows(uint begin, uint end) => inner.ReadRows(begin, end);

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) => inner.ReadRow(grainId, reminderName);

    public virtual Task<string?> UpsertRow(ReminderEntry entry) => inner.UpsertRow(entry);

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) => inner.RemoveRow(grainId, reminderName, eTag);

    public Task TestOnlyClearTable() => inner.TestOnlyClearTable();
}
