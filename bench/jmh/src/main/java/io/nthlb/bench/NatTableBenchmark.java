package io.nthlb.bench;

import io.nthlb.nat.Decision;
import io.nthlb.nat.NatTable;
import java.util.SplittableRandom;
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
 * One {@link NatTable#decide} on a kube-proxy table: PREROUTING, KUBE-SERVICES, KUBE-SVC-*, KUBE-SEP-*, DNAT.
 *
 * <p>{@code spread=random}: each call goes to a service picked at random in advance, so a large table is
 * measured through memory, as a busy balancer with traffic to every service sees it. {@code spread=one}: every
 * call goes to the same service, which isolates the cost of the walk itself from cache misses, the fair
 * comparison with a one-service table. The heap is fixed and touched up front, as for a server, so that the
 * first touch of fresh heap pages (slow in this virtual machine) is not measured as decision time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch"})
public class NatTableBenchmark {

    private static final int CLIENT = 192 << 24 | 168 << 16 | 1;
    private static final int SEQUENCE = 1 << 16;

    @Param({"1", "10000"})
    public int services;

    @Param({"random", "one"})
    public String spread;

    private NatTable table;
    private int[] localIps;
    private int[] localPorts;

    @Setup
    public void compile() {
        KubeProxyTable kube = new KubeProxyTable(services, 3);
        table = NatTable.compile(kube.ruleset());
        localIps = new int[SEQUENCE];
        localPorts = new int[SEQUENCE];
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < SEQUENCE; i++) {
            int service = spread.equals("one") ? services / 2 : random.nextInt(services);
            localIps[i] = KubeProxyTable.clusterIp(service);
            localPorts[i] = KubeProxyTable.servicePort(service);
        }
        Decision check = table.decide(CLIENT, 1024, localIps[0], localPorts[0]);
        if (!check.isNat()) {
            throw new IllegalStateException("the generated table did not NAT a service connection: " + check);
        }
    }

    /** Per thread: where in the sequence of services this thread is. */
    @State(Scope.Thread)
    public static class Cursor {
        int next;
    }

    @Benchmark
    public Decision decide(Cursor cursor) {
        int i = cursor.next++ & (SEQUENCE - 1);
        return table.decide(CLIENT, 1024 + (i & 0x7FFF), localIps[i], localPorts[i]);
    }
}
