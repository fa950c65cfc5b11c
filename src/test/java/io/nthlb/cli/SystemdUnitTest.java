package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** conf/nthlb.service, checked by systemd's own verifier and read for the settings the unit promises. */
class SystemdUnitTest {

    private static final Path UNIT = Path.of("conf/nthlb.service");

    @TempDir
    Path dir;

    @Test
    void systemdAnalyzeVerifyAcceptsTheUnit() throws Exception {
        assumeTrue(onPath("systemd-analyze"), "systemd-analyze is not installed (.ci/run installs the systemd package)");
        // verify also checks that ExecStart= exists: point it at a stand-in, as the install would put it there.
        Path launcher = dir.resolve("nthlb");
        Files.writeString(launcher, "#!/bin/sh\n");
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        String unit = Files.readString(UNIT);
        assertThat(unit).contains("ExecStart=/opt/nthlb/nthlb run ");
        Path copy = dir.resolve("nthlb.service");
        Files.writeString(copy, unit.replace("/opt/nthlb/nthlb ", launcher + " "));

        Process verify = new ProcessBuilder("systemd-analyze", "verify", "--man=no", copy.toString())
                .redirectErrorStream(true).start();
        String out = new String(verify.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(verify.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(out).isEmpty();
        assertThat(verify.exitValue()).isZero();
    }

    @Test
    void unitIsANotifyServiceThatReloadsRestartsAndRunsUnprivileged() throws IOException {
        List<String> lines = Files.readAllLines(UNIT);
        assertThat(lines).contains("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
                "DynamicUser=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "NoNewPrivileges=yes",
                "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes");
        assertThat(lines).anyMatch(line -> line.startsWith("LimitNOFILE="));
    }

    private static boolean onPath(String command) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(d, command))) {
                return true;
            }
        }
        return false;
    }
}
