using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Registry.Gateway;
using Registry.Gateway.Throttling;

namespace Registry.Tests.Throttling;

/// <summary><c>Registry:Throttling</c>: off by default, S1 with one unit when on, and overrides written like IoT Hub's docs.</summary>
public class ThrottlingOptionsTests
{
    [Fact]
    public void Defaults_are_off_S1_one_unit_no_overrides()
    {
        var options = new ThrottlingOptions();

        Assert.Equal((false, HubTier.S1, 1, 0), (options.Enabled, options.Tier, options.Units, options.Overrides.Count));
    }

    [Theory]
    [InlineData("100/min", 100, 60)]
    [InlineData(" 6000 / s ", 6000, 1)]
    [InlineData("2/h", 2, 3600)]
    [InlineData("1/Second", 1, 1)]
    [InlineData("5/MINUTE", 5, 60)]
    [InlineData("7/hour", 7, 3600)]
    [InlineData("12/sec", 12, 1)]
    public void Rates_read_as_count_per_window(string text, long count, int windowSeconds)
    {
        Assert.True(ThrottleRate.TryParse(text, out var rate));
        Assert.Equal(new ThrottleRate(count, TimeSpan.FromSeconds(windowSeconds)), rate);
    }

    [Theory]
    [InlineData("")]
    [InlineData("100")]
    [InlineData("0/min")]
    [InlineData("-1/s")]
    [InlineData("1.5/s")]
    [InlineData("100/ms")]
    [InlineData("100/day")]
    [InlineData("abc/min")]
    [InlineData("100/min/unit")]
    [InlineData("100000001/s")]
    public void Malformed_rates_are_refused(string text) => Assert.False(ThrottleRate.TryParse(text, out _));

    [Fact]
    public void Unknown_throttle_name_bad_rate_and_zero_units_are_each_reported()
    {
        var options = new ThrottlingOptions { Units = 0, Overrides = { ["Registry"] = "1/s", ["Queries"] = "fast", ["0"] = "1/s" } };

        var errors = new ThrottlingOptionsValidator().Validate(null, options).Failures!.ToArray();

        Assert.Equal(4, errors.Length);
        Assert.Contains(errors, e => e.Contains("Units", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Overrides:Registry names no throttle", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Overrides:0 names no throttle", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Overrides:Queries 'fast'", StringComparison.Ordinal));
    }

    /// <summary>Hostile review, 2026-12-05: a Free hub of 3 units and an S3 hub of 11 started; no IoT Hub has them.</summary>
    [Theory]
    [InlineData(HubTier.Free, 2)]
    [InlineData(HubTier.S3, 11)]
    [InlineData(HubTier.B3, 11)]
    [InlineData(HubTier.S1, 201)]
    [InlineData(HubTier.B2, 201)]
    public void More_units_than_the_tier_allows_are_refused_naming_its_limit(HubTier tier, int units)
    {
        var errors = new ThrottlingOptionsValidator().Validate(null, new ThrottlingOptions { Tier = tier, Units = units }).Failures!.ToArray();

        Assert.Contains($"Units {units} is more than a {tier} hub can have ({units - 1})", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HubTier.Free, 1)]
    [InlineData(HubTier.S3, 10)]
    [InlineData(HubTier.S2, 200)]
    public void The_largest_unit_count_of_each_tier_is_accepted(HubTier tier, int units) =>
        Assert.True(new ThrottlingOptionsValidator().Validate(null, new ThrottlingOptions { Tier = tier, Units = units }).Succeeded);

    [Fact]
    public async Task A_host_with_unusable_throttling_settings_fails_at_start()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddRegistryGateway();
        builder.Services.Configure<ThrottlingOptions>(o => o.Overrides["RegistryOperations"] = "lots");
        using var host = builder.Build();

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Overrides:RegistryOperations 'lots'", failure.Message, StringComparison.Ordinal);
    }
}
