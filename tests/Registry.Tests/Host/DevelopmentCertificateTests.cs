using System.Security.Cryptography.X509Certificates;
using Registry.Host;

namespace Registry.Tests.Host;

/// <summary>The generated CA outlives server certificates: clients that trust ca.pem keep trusting the registry.</summary>
public sealed class DevelopmentCertificateTests
{
    [Fact]
    public void A_new_host_name_reissues_the_server_certificate_under_the_same_ca()
    {
        var folder = Directory.CreateTempSubdirectory("registry-certs-").FullName;
        var first = DevelopmentCertificates.LoadOrCreate(folder, "first.example");
        var caBefore = File.ReadAllText(first.CaPath);

        var second = DevelopmentCertificates.LoadOrCreate(folder, "second.example");

        Assert.Equal(caBefore, File.ReadAllText(second.CaPath));
        Assert.Null(second.CaReplacedBecause);
        Assert.True(second.Server.MatchesHostname("second.example"));
        Assert.NotEqual(first.Server.Thumbprint, second.Server.Thumbprint);
        using var ca = X509Certificate2.CreateFromPem(caBefore);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(second.Server));
    }

    /// <summary>
    /// A client that fails over between gateways trusts each gateway's CA, in one bundle (NODE_EXTRA_CA_CERTS takes one
    /// file). The files ended without a newline, so two of them joined read "-----END CERTIFICATE----------BEGIN…" and
    /// Node refused the whole bundle ("bad end line"), failing every connection as unauthorized.
    /// </summary>
    [Fact]
    public void Two_hosts_ca_files_joined_into_one_bundle_read_as_two_certificates()
    {
        var first = DevelopmentCertificates.LoadOrCreate(Directory.CreateTempSubdirectory("registry-certs-").FullName, "localhost");
        var second = DevelopmentCertificates.LoadOrCreate(Directory.CreateTempSubdirectory("registry-certs-").FullName, "localhost");

        var bundle = File.ReadAllText(first.CaPath) + File.ReadAllText(second.CaPath);
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPem(bundle);

        Assert.Equal(2, certificates.Count);
        Assert.EndsWith("-----END CERTIFICATE-----\n", File.ReadAllText(first.CaPath), StringComparison.Ordinal);
        Assert.EndsWith("-----END PRIVATE KEY-----\n", File.ReadAllText(Path.Combine(Path.GetDirectoryName(first.CaPath)!, DevelopmentCertificates.CaKeyFileName)), StringComparison.Ordinal);
    }

    [Fact]
    public void The_ca_key_is_kept_beside_the_ca_readable_by_its_owner_only()
    {
        var folder = Directory.CreateTempSubdirectory("registry-certs-").FullName;
        DevelopmentCertificates.LoadOrCreate(folder, "localhost");

        var key = Path.Combine(folder, DevelopmentCertificates.CaKeyFileName);
        Assert.True(File.Exists(key));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        }
    }

    [Fact]
    public void A_ca_without_its_key_is_replaced_and_the_reason_is_given()
    {
        var folder = Directory.CreateTempSubdirectory("registry-certs-").FullName;
        DevelopmentCertificates.LoadOrCreate(folder, "first.example");
        File.Delete(Path.Combine(folder, DevelopmentCertificates.CaKeyFileName));

        var second = DevelopmentCertificates.LoadOrCreate(folder, "second.example");

        Assert.Contains("missing", second.CaReplacedBecause, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DevelopmentCertificates.CaFileName)]
    [InlineData(DevelopmentCertificates.CaKeyFileName)]
    public void A_damaged_ca_file_is_replaced_with_a_reason_naming_the_file_instead_of_crashing_the_start(string damaged)
    {
        var folder = Directory.CreateTempSubdirectory("registry-certs-").FullName;
        DevelopmentCertificates.LoadOrCreate(folder, "localhost");
        var path = Path.Combine(folder, damaged);
        File.WriteAllText(path, File.ReadAllText(path)[..100]);

        // Another host name: a new server certificate must be issued, which takes a usable CA.
        var second = DevelopmentCertificates.LoadOrCreate(folder, "second.example");

        Assert.Contains(path, second.CaReplacedBecause, StringComparison.Ordinal);
        Assert.True(second.Server.MatchesHostname("second.example"));
        Assert.True(IssuedBy(second.Server, second.CaPath));
    }

    [Fact]
    public void A_damaged_ca_pem_beside_a_valid_server_certificate_is_left_alone_and_the_server_certificate_kept()
    {
        var folder = Directory.CreateTempSubdirectory("registry-certs-").FullName;
        var first = DevelopmentCertificates.LoadOrCreate(folder, "localhost");
        var caKey = Path.Combine(folder, DevelopmentCertificates.CaKeyFileName);
        var keyBefore = File.ReadAllText(caKey);
        File.WriteAllText(first.CaPath, "garbage\n");

        var second = DevelopmentCertificates.LoadOrCreate(folder, "localhost");

        Assert.Null(second.CaReplacedBecause);
        Assert.Equal(first.Server.Thumbprint, second.Server.Thumbprint);
        Assert.Equal("garbage\n", File.ReadAllText(first.CaPath));
        Assert.Equal(keyBefore, File.ReadAllText(caKey));
    }

    [Fact]
    public void A_damaged_server_certificate_is_issued_again_by_the_same_ca()
    {
        var folder = Directory.CreateTempSubdirectory("registry-certs-").FullName;
        var first = DevelopmentCertificates.LoadOrCreate(folder, "localhost");
        var caBefore = File.ReadAllText(first.CaPath);
        var server = Path.Combine(folder, DevelopmentCertificates.ServerFileName);
        File.WriteAllBytes(server, File.ReadAllBytes(server)[..100]);

        var second = DevelopmentCertificates.LoadOrCreate(folder, "localhost");

        Assert.Null(second.CaReplacedBecause);
        Assert.Equal(caBefore, File.ReadAllText(second.CaPath));
        Assert.True(IssuedBy(second.Server, second.CaPath));
    }

    private static bool IssuedBy(X509Certificate2 server, string caPath)
    {
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(caPath));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(server);
    }
}
