using Microsoft.Extensions.Configuration;
using Registry.Host;

namespace Registry.Tests.Observability;

/// <summary>Observability settings are refused like the registry's own: one line naming the setting, nothing started.</summary>
public sealed class ObservabilitySettingsTests
{
    [Theory]
    [InlineData("Observability:Port", "70000", "Registry:Observability:Port 70000 is not a port")]
    [InlineData("Observability:ListenAddress", "everywhere", "Registry:Observability:ListenAddress 'everywhere' is not an IP address")]
    [InlineData("Otlp:Endpoint", "collector:4317", "Registry:Otlp:Endpoint 'collector:4317' is not an http(s) URL")]
    [InlineData("Otlp:Protocol", "udp", "Registry:Otlp:Protocol 'udp' is not one of grpc, http/protobuf")]
    [InlineData("Dashboard:Enabled", "true", "Registry:Dashboard:Password must be set")]
    public void A_setting_it_cannot_run_with_is_refused_by_name(string key, string value, string refusal)
    {
        var registry = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [$"Registry:{key}"] = value })
            .Build().GetSection(RegistrySettings.Section);

        var e = Assert.Throws<RegistryStartupException>(() => ObservabilitySettings.Bind(registry).Validate());

        Assert.Contains(refusal, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("                ")]
    [InlineData("\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t")]
    [InlineData("       fifteen-chars!!      ")]
    public void A_dashboard_password_of_fewer_than_16_characters_besides_whitespace_is_refused(string password)
    {
        var e = Assert.Throws<RegistryStartupException>(() => Dashboard(password).Validate());

        Assert.Contains("Registry:Dashboard:Password must be set, at least 16 characters besides whitespace", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dashboard_password_of_16_characters_besides_its_spaces_is_accepted() =>
        Dashboard("correct horse battery staple").Validate();

    private static ObservabilitySettings Dashboard(string password) => ObservabilitySettings.Bind(new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?> { ["Registry:Dashboard:Enabled"] = "true", ["Registry:Dashboard:Password"] = password })
        .Build().GetSection(RegistrySettings.Section));

    [Fact]
    public void Everything_is_off_by_default()
    {
        var settings = ObservabilitySettings.Bind(new ConfigurationBuilder().Build().GetSection(RegistrySettings.Section));

        settings.Validate();
        Assert.Equal((0, "127.0.0.1", null, false), (settings.Port, settings.ListenAddress, settings.Otlp.Endpoint, settings.Dashboard.Enabled));
    }
}
