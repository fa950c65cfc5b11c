package io.nthlb.bench;

import io.nthlb.nat.NatTable;
import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RulesParser;
import io.nthlb.rules.Ruleset;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Loading the kube-proxy table of 10,000 services x 3 endpoints, cold: each fork does it once without
 * warm-up, which is what starting nthlb (or a reload) costs. {@code load} parses the iptables-save text and
 * compiles it, the whole of what {@code run} does before it listens; {@code compile} is the second half alone.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 0)
@Measurement(iterations = 1)
@Fork(value = 5, jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
public class LoadBenchmark {

    @Param({"10000"})
    public int services;

    private Ruleset rules;
    private String text;

    @Setup
    public void generate() {
        KubeProxyTable table = new KubeProxyTable(services, 3);
        rules = table.ruleset();
        text = table.rulesText();
    }

    @Benchmark
    public NatTable load() {
        LoadResult loaded = RulesParser.parse("kube-proxy.rules", text);
        if (!loaded.ok()) {
            throw new IllegalStateException("generated table does not load: " + loaded.errors().get(0));
        }
        return NatTable.compile(loaded.ruleset());
    }

    @Benchmark
    public NatTable compile() {
        return NatTable.compile(rules);
    }
}
