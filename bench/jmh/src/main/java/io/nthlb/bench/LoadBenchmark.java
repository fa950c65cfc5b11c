package io.nthlb.bench;

import io.nthlb.nat.NatTable;
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
 * Compiling the kube-proxy table of 10,000 services x 3 endpoints into a {@link NatTable}, cold: each fork
 * compiles once without warm-up, which is what starting nthlb (or a reload) costs.
 *
 * <p>It starts from the rule model, not the text: the parser (io.nthlb.rules) is not in this build yet. Once
 * it is, parse {@link KubeProxyTable#rulesText()} here as well, for the whole load.
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

    @Setup
    public void generate() {
        rules = new KubeProxyTable(services, 3).ruleset();
    }

    @Benchmark
    public NatTable compile() {
        return NatTable.compile(rules);
    }
}
