namespace Registry.Tests.Infrastructure;

/// <summary>
/// One real registry process (embedded mode, HTTPS on a free port) per test class. Tests in a class run one
/// after another, so each class owns its registry; tests still use ids of their own so order never matters.
/// </summary>
public class RegistryHostFixture : IAsyncLifetime
{
    public RegistryTestHost Host { get; private set; } = null!;

    /// <summary>From <see cref="RegistryTestHost.CreateClient()"/>, so it carries whatever credentials the host requires.</summary>
    public HttpClient Client { get; private set; } = null!;

    public virtual async ValueTask InitializeAsync()
    {
        Host = await RegistryTestHost.StartAsync();
        Client = Host.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
