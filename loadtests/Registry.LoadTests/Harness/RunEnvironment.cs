using System.Diagnostics;
using System.Globalization;

namespace Registry.LoadTests.Harness;

/// <summary>A process other than this one that used the CPU while the run went on: what shared the cores.</summary>
internal sealed record CoTenant(int Pid, string Command, double CpuSeconds);

/// <summary>
/// The machine a run measured on and what else ran on it: cores, the load average before and after, the processes
/// that took CPU time during the run (from /proc), this process's peak RSS. Every report states these, so a figure
/// from a shared machine is never read as one from a quiet one.
/// </summary>
internal sealed record RunEnvironment(
    int Cores, string Os, string Runtime, bool ServerGc, string LoadBefore, string LoadAfter,
    double ProcessCpuSeconds, double WallSeconds, long PeakRssBytes, IReadOnlyList<CoTenant> CoTenants)
{
    /// <summary>Starts watching the machine; <see cref="Sample.Finish"/> gives the environment of the run.</summary>
    public static Sample Begin() => new();

    /// <summary>
    /// Watches the machine from <see cref="Begin"/> to <see cref="Finish"/>. The processes are read every
    /// <see cref="PollEvery"/> as well as at both ends: a process that started and ended during the run (a test suite, a
    /// build, another benchmark) counts with the CPU it had used when last seen, instead of missing from the report.
    /// </summary>
    internal sealed class Sample : IDisposable
    {
        public static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(2);

        private readonly string _loadBefore = LoadAverage();
        private readonly Dictionary<int, (string Command, double Cpu)> _before = ProcessCpu();
        private readonly Dictionary<int, (string Command, double Cpu)> _lastSeen = [];
        private readonly double _selfCpu = Environment.CpuUsage.TotalTime.TotalSeconds;
        private readonly Stopwatch _wall = Stopwatch.StartNew();
        private readonly Timer _poll;

        public Sample()
        {
            _poll = new Timer(_ => PollOnTimer(), null, PollEvery, PollEvery);
        }

        /// <summary>
        /// The timer's poll: an exception on a timer thread ends the process, so one that escapes a read is dropped
        /// here (the next poll, or <see cref="Finish"/>, reads again), never allowed to end the run.
        /// </summary>
        private void PollOnTimer()
        {
            try
            {
                Poll();
            }
            catch (Exception)
            {
                // What shared the cores is reported from the other reads.
            }
        }

        /// <summary>Reads every process now (the timer does it every <see cref="PollEvery"/>).</summary>
        public void Poll()
        {
            var now = ProcessCpu();
            lock (_lastSeen)
            {
                foreach (var (pid, seen) in now)
                {
                    _lastSeen[pid] = seen;
                }
            }
        }

        public RunEnvironment Finish()
        {
            _poll.Dispose();
            Poll();
            var self = Environment.ProcessId;
            List<CoTenant> others;
            lock (_lastSeen)
            {
                others = _lastSeen
                    .Where(p => p.Key != self)
                    .Select(p => new CoTenant(p.Key, p.Value.Command, p.Value.Cpu - (_before.TryGetValue(p.Key, out var b) && b.Command == p.Value.Command ? b.Cpu : 0)))
                    .Where(p => p.CpuSeconds >= 0.5)
                    .OrderByDescending(p => p.CpuSeconds)
                    .Take(8)
                    .ToList();
            }
            return new RunEnvironment(
                Environment.ProcessorCount,
                System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
                System.Runtime.GCSettings.IsServerGC,
                _loadBefore,
                LoadAverage(),
                Environment.CpuUsage.TotalTime.TotalSeconds - _selfCpu,
                _wall.Elapsed.TotalSeconds,
                PeakRss(),
                others);
        }

        public void Dispose() => _poll.Dispose();
    }

    public static string LoadAverage() => Bench.Measurement.LoadAverage();

    /// <summary>VmHWM: the most resident memory this process has had, from /proc (0 where there is none).</summary>
    public static long PeakRss()
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path))
        {
            return 0;
        }
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : StatusBytes(line);
    }

    /// <summary>
    /// The bytes of a <c>/proc/PID/status</c> line such as <c>VmHWM:\t 1972 kB</c>. The value is padded to eight digits
    /// after a tab, so from 10 GB on no space separates it from its name: split on tabs and spaces alike.
    /// </summary>
    public static long StatusBytes(string line) =>
        long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

    /// <summary>utime + stime of every process (clock ticks of 1/100 s on Linux), with its command name.</summary>
    private static Dictionary<int, (string Command, double Cpu)> ProcessCpu()
    {
        var result = new Dictionary<int, (string, double)>();
        if (!Directory.Exists("/proc"))
        {
            return result;
        }
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                if (ParseStat(File.ReadAllText(Path.Combine(dir, "stat"))) is var (name, cpu))
                {
                    result[pid] = (Describe(dir, name), cpu);
                }
            }
            catch (IOException)
            {
                // The process ended while being read.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return result;
    }

    /// <summary>
    /// The command name and utime + stime in seconds of a <c>/proc/PID/stat</c> text, or null for one that is not whole
    /// (empty, cut short, not numbers where the times are): such a text is skipped, never thrown on, because the poll
    /// runs on a timer, where an exception would end the harness with SIGABRT in the middle of a run.
    /// </summary>
    public static (string Name, double CpuSeconds)? ParseStat(string stat)
    {
        var open = stat.IndexOf('(');
        var close = stat.LastIndexOf(')');
        if (open < 0 || close < open || close + 2 > stat.Length)
        {
            return null;
        }
        var fields = stat[(close + 2)..].Split(' ');
        return fields.Length > 12 &&
            double.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out var utime) &&
            double.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out var stime)
            ? (stat[(open + 1)..close], (utime + stime) / 100)
            : null;
    }

    /// <summary>The command name, and for dotnet and node the program they run, which says more than "dotnet".</summary>
    private static string Describe(string dir, string name)
    {
        if (name is not ("dotnet" or "node" or "MainThread" or ".NET ThreadPool"))
        {
            return name;
        }
        try
        {
            var args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            var program = args.Skip(1).FirstOrDefault(a => !a.StartsWith('-'));
            return program is null ? name : $"{name} {Path.GetFileName(program)}";
        }
        catch (IOException)
        {
            return name;
        }
    }
}
