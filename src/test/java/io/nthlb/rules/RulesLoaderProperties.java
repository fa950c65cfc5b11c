package io.nthlb.rules;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.Main;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Whatever bytes a rules file holds, loading it ends in rules or FILE:LINE errors, in bounded time. */
class RulesLoaderProperties {
    /** Far above what any of these inputs takes here, far below what a quadratic reader took. */
    private static final Duration BOUND = Duration.ofSeconds(20);

    @Provide
    Arbitrary<byte[]> hostileBytes() {
        Arbitrary<Byte> anyByte = Arbitraries.bytes();
        Arbitrary<Byte> shellish = Arbitraries.of((byte) '\\', (byte) '\n', (byte) '\r', (byte) 0, (byte) '"',
                (byte) '\'', (byte) '#', (byte) ' ', (byte) '*', (byte) ':', (byte) 0xC3, (byte) 0xFF);
        Arbitrary<byte[]> prefix = Arbitraries.of("", "iptables -t nat -A OUTPUT ", "*nat\n-A OUTPUT ",
                "iptables -t nat -N A\niptables -t nat -A OUTPUT -j A\n").map(s -> s.getBytes(StandardCharsets.UTF_8));
        Arbitrary<byte[]> body = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(1, anyByte), net.jqwik.api.Tuple.of(1, shellish))
                .list().ofMaxSize(300).map(list -> {
                    byte[] b = new byte[list.size()];
                    for (int i = 0; i < b.length; i++) {
                        b[i] = list.get(i);
                    }
                    return b;
                });
        return net.jqwik.api.Combinators.combine(prefix, body).as((p, b) -> {
            byte[] all = new byte[p.length + b.length];
            System.arraycopy(p, 0, all, 0, p.length);
            System.arraycopy(b, 0, all, p.length, b.length);
            return all;
        });
    }

    @Property(tries = 500)
    void anyBytesEndInRulesOrErrorsWithALine(@ForAll("hostileBytes") byte[] bytes) throws IOException {
        assertAnswered(bytes);
    }

    private static LoadResult assertAnswered(byte[] bytes) throws IOException {
        LoadResult r = RulesParser.parse("f.rules", () -> new ByteArrayInputStream(bytes));
        int lines = 1;
        for (byte b : bytes) {
            lines += b == '\n' ? 1 : 0;
        }
        int last = lines;
        assertThat(r.errors()).allSatisfy(e -> {
            assertThat(e.origin().line()).isBetween(1, last);
            assertThat(e.toString()).startsWith("f.rules:" + e.origin().line() + ": ");
            assertThat(e.message()).hasSizeLessThanOrEqualTo(RuleError.MAX_MESSAGE + 16)
                    .doesNotContainPattern("[\\x00-\\x1f\\x7f]");
        });
        RulePrinter.listRules(r.ruleset());
        return r;
    }

    @TempDir
    Path dir;

    /** Runs {@code nthlb check} on {@code text}, within {@link #BOUND}, and gives its status and stderr. */
    private String[] check(String name, byte[] bytes) throws IOException {
        Path file = dir.resolve(name);
        Files.write(file, bytes);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        long start = System.nanoTime();
        int status = cl.execute("check", file.toString());
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(BOUND);
        assertThat(status).isIn(0, 2);
        assertThat(err.toString()).doesNotContain("Exception").doesNotContain("\tat ");
        for (String line : err.toString().split("\n")) {
            if (!line.isEmpty()) {
                assertThat(line).startsWith(file + ":").hasSizeLessThan(file.toString().length() + 400);
            }
        }
        return new String[] {Integer.toString(status), err.toString()};
    }

    @Test
    void checkAnswersEveryBigInputInBoundedTime() throws IOException {
        StringBuilder continued = new StringBuilder("iptables -t nat -A OUTPUT \\\n");
        continued.append("-m comment --comment x \\\n".repeat(50_000)).append("-j ACCEPT\n");
        assertThat(check("continued.rules", bytes(continued.toString()))[0]).isEqualTo("0");

        byte[] huge = bytes("iptables -t nat -A OUTPUT " + "-p tcp ".repeat(50_000_000 / 7) + "\n");
        assertThat(check("huge.rules", huge)[1]).contains(":1: nthlb: command longer than");
        huge = null;

        String options = "iptables -t nat -A OUTPUT" + " -m comment --comment x".repeat(10_000) + " -j ACCEPT\n";
        assertThat(check("options.rules", bytes(options))[0]).isEqualTo("0");

        StringBuilder deep = new StringBuilder();
        for (int i = 1; i <= 1000; i++) {
            deep.append("iptables -t nat -N C").append(i).append('\n');
        }
        deep.append("iptables -t nat -A PREROUTING -j C1\n");
        for (int i = 1; i < 1000; i++) {
            deep.append("iptables -t nat -A C").append(i).append(" -j C").append(i + 1).append('\n');
        }
        assertThat(check("deep.rules", bytes(deep.toString()))[1]).contains("Too many links");

        StringBuilder loops = new StringBuilder("*nat\n");
        for (int i = 0; i < 2000; i++) {
            loops.append(":L").append(i).append(" - [0:0]\n");
        }
        for (int i = 0; i < 2000; i++) {
            loops.append("-A L").append(i).append(" -j L").append((i + 1) % 2000).append('\n');
            loops.append("-A PREROUTING -j L").append(i).append('\n');
        }
        loops.append("COMMIT\n");
        assertThat(check("loops.rules", bytes(loops.toString()))[1]).contains("Too many links");

        StringBuilder many = new StringBuilder("*nat\n");
        for (int i = 0; i < 200_000; i++) {
            many.append("-A PREROUTING -d 10.").append(i >> 16).append('.').append((i >> 8) & 255).append('.')
                    .append(i & 255).append(" -p tcp -m tcp --dport 80 -j DNAT --to-destination 172.16.0.1:80\n");
        }
        many.append("COMMIT\n");
        // Loaded rather than checked: printing 200,000 rules back would test the printer, not the loader.
        Path manyFile = dir.resolve("many.rules");
        Files.write(manyFile, bytes(many.toString()));
        long start = System.nanoTime();
        LoadResult loaded = RulesFile.load(manyFile);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(BOUND);
        assertThat(loaded.errors()).isEmpty();
        assertThat(loaded.ruleset().ruleCount()).isEqualTo(200_000);

        byte[] noise = new byte[1 << 20];
        new java.util.Random(7).nextBytes(noise);
        assertThat(check("noise.rules", noise)[0]).isEqualTo("2");
        byte[] crlf = bytes("iptables -t nat -A OUTPUT -j ACCEPT\r\n\u0000\r\n");
        assertThat(check("crlf.rules", crlf)[1]).contains(":2: nthlb: NUL byte");
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
