package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.testing.FreePort;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code mvn package} ships, used as a user would: the release tarball unpacked, its launcher run with
 * its class-data-sharing archive, without it, and with one the JVM cannot use.
 */
class ReleaseTarballIT {

    private static final String VERSION = System.getProperty("nthlb.version");

    @TempDir
    Path dir;
    private Path home;

    @BeforeEach
    void unpack() throws Exception {
        Path tarball = Path.of("target", "nthlb-" + VERSION + ".tar.gz");
        assertThat(tarball).exists();
        assertThat(run(List.of("tar", "-C", dir.toString(), "-xzf", tarball.toAbsolutePath().toString()), Map.of())
                .exit).isZero();
        home = dir.resolve("nthlb-" + VERSION);
    }

    @Test
    void holdsTheLauncherJarManPageCompletionAndConf() {
        assertThat(home.resolve("nthlb")).isExecutable();
        for (String file : new String[] {"nthlb.jar", "nthlb.1", "nthlb.bash", "conf/seed.rules", "conf/logback.xml",
                "conf/nthlb.service", "conf/keepalived.conf.example"}) {
            assertThat(home.resolve(file)).isRegularFile();
        }
        // The archive belongs to the jar's path and the JVM that made it, so it is made where nthlb runs.
        assertThat(home.resolve("nthlb.jsa")).doesNotExist();
    }

    @Test
    void launcherRecordsTheArchiveOnItsFirstRunAndLoadsClassesFromIt() throws Exception {
        Result first = run(List.of(home.resolve("nthlb").toString(), "--version"), Map.of());
        assertThat(first.exit).isZero();
        assertThat(first.out).isEqualTo("nthlb " + VERSION + "\n");
        assertThat(home.resolve("nthlb.jsa")).isRegularFile();

        Result second = run(List.of(home.resolve("nthlb").toString(), "--version"),
                Map.of("NTHLB_JAVA_OPTS", "-Xlog:class+load=info:stdout"));
        // picocli's classes too, which are compiled for Java 5 and which only a static archive holds on Java 17.
        assertThat(second.out).contains("io.nthlb.Main source: shared objects file",
                "picocli.CommandLine source: shared objects file");
    }

    @Test
    void anArchiveTheJvmCannotUseIsSkippedWithoutAWord() throws Exception {
        Path launcher = home.resolve("nthlb");
        Path archive = home.resolve("nthlb.jsa");
        Path jar = home.resolve("nthlb.jar");
        assertThat(run(List.of(launcher.toString(), "--version"), Map.of()).exit).isZero();
        // The jar now differs from the one the archive was made for (its time is part of what the JVM checks),
        // yet is older than the archive, so the launcher keeps the archive and the JVM must refuse it.
        Files.setLastModifiedTime(jar, FileTime.from(Files.getLastModifiedTime(archive).toInstant().minusSeconds(3600)));
        assertCheckRunsQuietly(launcher);

        // Not an archive at all: the same.
        Files.writeString(archive, "made by some other JVM");
        Files.setLastModifiedTime(archive, FileTime.from(Instant.now().plusSeconds(60)));
        assertCheckRunsQuietly(launcher);
    }

    @Test
    void launcherRunsTheJvmWithItsMemorySettings() throws Exception {
        Path javaHome = Path.of(System.getProperty("java.home"));
        Result r = run(List.of(home.resolve("nthlb").toString(), "--version"),
                Map.of("JAVA_HOME", javaHome.toString(), "NTHLB_JAVA_OPTS", "-XX:+PrintCommandLineFlags"));
        assertThat(r.exit).isZero();
        assertThat(r.out).contains("-XX:NewSize=4194304", "-XX:MaxNewSize=4194304", "-XX:+UseSerialGC",
                "-XX:MaxHeapFreeRatio=40", "-XX:-ShrinkHeapInSteps");
        Runtime.Version v = Runtime.version();
        boolean trims = v.feature() >= 22 || v.feature() == 21 && v.update() >= 1 || v.feature() == 17 && v.update() >= 9;
        if (trims) {
            assertThat(r.out).contains("-XX:TrimNativeHeapInterval=5000");
        } else {
            assertThat(r.out).doesNotContain("TrimNativeHeapInterval");
        }
        // The arena limit is for the JVM's process, which the launcher becomes: read it from there.
        Path rules = dir.resolve("one.rules");
        Files.writeString(rules, "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + FreePort.onLoopback()
                + " -j DNAT --to-destination 127.0.0.1:" + FreePort.onLoopback() + "\n");
        Path log = dir.resolve("run.log");
        Process p = new ProcessBuilder(home.resolve("nthlb").toString(), "run", "--admin", "off", rules.toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(log.toFile()).start();
        try {
            RunSigtermTest.awaitLine(log, "listening on 127.0.0.1:");
            String environ = Files.readString(Path.of("/proc", Long.toString(p.pid()), "environ"));
            assertThat(environ.split("\0")).contains("MALLOC_ARENA_MAX=2");
        } finally {
            p.destroy();
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void aJvmOlderThanTheTrimFlagRunsWithoutIt() throws Exception {
        // A Java 17 before 17.0.9 stops at -XX:TrimNativeHeapInterval; the launcher reads its release file.
        Path old = dir.resolve("jdk-17.0.8");
        Files.createDirectories(old.resolve("bin"));
        Files.createSymbolicLink(old.resolve("bin/java"), Path.of(System.getProperty("java.home"), "bin", "java"));
        Files.writeString(old.resolve("release"), "JAVA_VERSION=\"17.0.8\"\n");
        Result r = run(List.of(home.resolve("nthlb").toString(), "--version"),
                Map.of("JAVA_HOME", old.toString(), "NTHLB_JAVA_OPTS", "-XX:+PrintCommandLineFlags"));
        assertThat(r.exit).isZero();
        assertThat(r.out).contains("-XX:NewSize=4194304").doesNotContain("TrimNativeHeapInterval")
                .endsWith("nthlb " + VERSION + "\n");
    }

    private void assertCheckRunsQuietly(Path launcher) throws Exception {
        Result r = run(List.of(launcher.toString(), "check", home.resolve("conf/seed.rules").toString()), Map.of());
        assertThat(r.exit).isZero();
        assertThat(r.out).startsWith("-P PREROUTING ACCEPT\n");
        assertThat(r.err).isEmpty();
    }

    @Test
    void manPageRendersWithMan() throws Exception {
        Result r = run(List.of("man", "-l", home.resolve("nthlb.1").toString()), Map.of("MANPAGER", "cat",
                "MANWIDTH", "100"));
        assertThat(r.exit).isZero();
        assertThat(r.out).contains("nthlb run").contains("--transport").contains("generate-completion");
    }

    private record Result(int exit, String out, String err) {
    }

    private Result run(List<String> command, Map<String, String> env) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(command));
        pb.environment().putAll(env);
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("%s finished", command).isTrue();
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }
}
