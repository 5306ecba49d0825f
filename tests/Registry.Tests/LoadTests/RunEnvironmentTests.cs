using Registry.LoadTests.Harness;

namespace Registry.Tests.LoadTests;

public sealed class RunEnvironmentTests
{
    [Theory]
    [InlineData("VmHWM:\t    1972 kB", 1972L * 1024)]
    [InlineData("VmHWM:\t10534120 kB", 10534120L * 1024)] // from 10 GB on, no space follows the tab (a 1M-device run crashed here)
    public void A_proc_status_line_gives_its_bytes_whatever_its_padding(string line, long bytes) =>
        Assert.Equal(bytes, RunEnvironment.StatusBytes(line));
}
