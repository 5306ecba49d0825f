using Microsoft.Extensions.Configuration;
using Registry.Host;

namespace Registry.Tests.Host;

/// <summary>
/// A name under <c>Registry</c> that is no setting refuses the start (hostile review, 2026-12-07: a misspelt
/// <c>Registry__Heartbeat__IntervalSecond</c> started the registry with monitoring off, and said nothing); every documented
/// name, nested ones, dictionary keys and list indexes included, is accepted.
/// </summary>
public sealed class UnknownSettingsTests
{
    private static IConfigurationSection Registry(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>("Registry:" + s.Key, s.Value)))
            .Build()
            .GetSection("Registry");

    [Fact]
    public void Every_kind_of_documented_name_is_accepted_whatever_its_case()
    {
        UnknownSettings.Refuse(Registry(
            ("IndexPartitions", "256"), ("storageconnectionstring", "x"), ("Heartbeat:IntervalSeconds", "30"), ("Heartbeat:GraceSeconds", "10"),
            ("Authentication:TokenCacheSize", "10"), ("AccessPolicies:scripts:PrimaryKey", "k"), ("AccessPolicies:scripts:Rights", "RegistryRead"),
            ("Routes:0:Name", "r"), ("Routes:0:Source", "DeviceLifecycleEvents"), ("Routes:0:Enabled", "true"),
            ("Throttling:Enabled", "true"), ("Throttling:Overrides:DeviceToCloudSends", "100"), ("Observability:Port", "9464"),
            ("Observability:ListenAddress", "127.0.0.1"), ("Otlp:Endpoint", "http://127.0.0.1:4317"), ("Dashboard:Password", "p")));
    }

    /// <summary>A review (2026-12-08): each started the registry as if not given (Registry:Heartbeat=60 with monitoring off).</summary>
    [Theory]
    [InlineData("Heartbeat", "60")]
    [InlineData("Routes", "lifecycle")]
    [InlineData("Routes:0", "lifecycle")]
    [InlineData("Throttling", "true")]
    [InlineData("Observability", "42090")]
    [InlineData("AccessPolicies", "x")]
    [InlineData("Authentication", "off")]
    public void A_value_given_to_a_section_refuses_the_start_naming_it(string key, string value)
    {
        var refused = Assert.Throws<RegistryStartupException>(() => UnknownSettings.Refuse(Registry(("HttpsPort", "8443"), (key, value))));

        Assert.StartsWith("Invalid configuration, nothing was started: ", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"Registry:{key}={value} is a section of settings, not a value", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>A re-check (2026-12-08): <c>--Registry=5</c> started the registry as if not given.</summary>
    [Fact]
    public void A_value_given_to_the_registry_section_itself_refuses_the_start()
    {
        var registry = new ConfigurationBuilder().AddInMemoryCollection([new("Registry", "5"), new("Registry:HttpsPort", "8443")]).Build().GetSection("Registry");

        var refused = Assert.Throws<RegistryStartupException>(() => UnknownSettings.Refuse(registry));

        Assert.Contains("Registry=5 is a section of settings, not a value", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>A re-check (2026-12-08): each crashed the start after the new owner key was written and before the line that shows it.</summary>
    [Theory]
    [InlineData("Logging:LogLevel:Default", "Loud")]
    [InlineData("Logging:LogLevel:Orleans", "x")]
    [InlineData("Logging:Console:LogToStandardErrorThreshold", "x")]
    public void A_log_level_that_is_none_refuses_the_start_naming_it(string key, string value)
    {
        var logging = new ConfigurationBuilder().AddInMemoryCollection([new(key, value), new("Logging:LogLevel:Microsoft", "Warning")]).Build().GetSection("Logging");

        var refused = Assert.Throws<RegistryStartupException>(() => UnknownSettings.RefuseLogLevels(logging));

        Assert.Contains($"{key}={value} is not a log level", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Microsoft", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Log_levels_in_any_case_pass()
    {
        UnknownSettings.RefuseLogLevels(new ConfigurationBuilder().AddInMemoryCollection(
            [new("Logging:LogLevel:Default", "information"), new("Logging:Console:LogToStandardErrorThreshold", "None"), new("Logging:Console:FormatterName", "simple")])
            .Build().GetSection("Logging"));
    }

    /// <summary>What an empty JSON object (<c>"Heartbeat": {}</c>) leaves: no value given.</summary>
    [Fact]
    public void An_empty_section_is_accepted()
    {
        UnknownSettings.Refuse(Registry(("Heartbeat", ""), ("Throttling", "")));
    }

    [Theory]
    [InlineData("Heartbeat:IntervalSecond", "Registry:Heartbeat:IntervalSecond is not a setting")]
    [InlineData("IndexPartiton", "Registry:IndexPartiton is not a setting")]
    [InlineData("AccessPolicies:scripts:PrimaryKy", "Registry:AccessPolicies:scripts:PrimaryKy is not a setting")]
    [InlineData("Routes:0:Sorce", "Registry:Routes:0:Sorce is not a setting")]
    [InlineData("Observability:Otlp:Endpoint", "Registry:Observability:Otlp is not a setting")]
    [InlineData("IndexPartitions:Count", "Registry:IndexPartitions:Count is not a setting")]
    // A value the settings compute, not one they are given: the binder ignores it.
    [InlineData("StorageTimeout", "Registry:StorageTimeout is not a setting")]
    public void A_name_no_setting_has_refuses_the_start_naming_it(string key, string named)
    {
        var refused = Assert.Throws<RegistryStartupException>(() => UnknownSettings.Refuse(Registry(("HttpsPort", "8443"), (key, "1"))));

        Assert.StartsWith("Invalid configuration, nothing was started: ", refused.Message, StringComparison.Ordinal);
        Assert.Contains(named, refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("HttpsPort", refused.Message, StringComparison.Ordinal);
    }
}
