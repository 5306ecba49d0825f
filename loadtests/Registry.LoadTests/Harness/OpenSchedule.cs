namespace Registry.LoadTests.Harness;

/// <summary>
/// When the open model means to send its n-th call: the calls are spread evenly under the rate curve, so the number
/// sent by time t is the area under the rate up to t. Latency counts from this intended time, not from when the call
/// actually left: a target that stalls the sender cannot hide its stall (no coordinated omission).
/// </summary>
internal sealed class OpenSchedule
{
    private readonly double _from;
    private readonly double _to;
    private readonly double _ramp;
    private readonly double _rampCalls;

    /// <param name="model">An open model; its rates are items per second.</param>
    /// <param name="itemsPerCall">Items one call carries (a batch of heartbeats), so the call rate is the item rate ÷ this.</param>
    public OpenSchedule(LoadModel model, int itemsPerCall = 1)
    {
        if (model.Kind != LoadKind.Open)
        {
            throw new ArgumentException("An open schedule needs an open model.", nameof(model));
        }
        _from = model.From / itemsPerCall;
        _to = model.To / itemsPerCall;
        _ramp = model.Ramp.TotalSeconds;
        _rampCalls = (_from + _to) * _ramp / 2;
    }

    /// <summary>Seconds from the step's start at which call <paramref name="n"/> (from 0) is meant to leave.</summary>
    public double IntendedSeconds(long n)
    {
        if (n < _rampCalls)
        {
            // n = from·t + (to − from)·t² / (2·ramp), solved for t ≥ 0.
            var a = (_to - _from) / (2 * _ramp);
            return Math.Abs(a) < 1e-12 ? n / _from : (-_from + Math.Sqrt(_from * _from + 4 * a * n)) / (2 * a);
        }
        return _ramp + (n - _rampCalls) / _to;
    }

    /// <summary>How many calls (at most <paramref name="limit"/>) are meant to leave before <paramref name="seconds"/>.</summary>
    public long CallsBefore(double seconds, long limit)
    {
        // The intended times rise with n: the first call not before the end, by bisection.
        long low = 0, high = limit;
        while (low < high)
        {
            var mid = low + ((high - low) / 2);
            if (IntendedSeconds(mid) < seconds)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }
        return low;
    }
}
