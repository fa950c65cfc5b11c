package io.nthlb.proxy;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads a sysctl under /proc/sys, such as {@code /proc/sys/net/ipv4/tcp_tw_reuse}. */
public final class Sysctl {

    private Sysctl() {
    }

    /**
     * The value's fields (one for {@code tcp_tw_reuse}, two for {@code ip_local_port_range}) as integers.
     *
     * @throws IOException when the file cannot be read, is empty, or holds something other than integers
     */
    public static int[] ints(Path file) throws IOException {
        // One read of a whole line: Files.readString trusts the size procfs reports (0), reads one byte, and the
        // kernel answers a read at a later offset of a sysctl with end of file, so "1024" would come back as "1".
        String line;
        try (BufferedReader in = Files.newBufferedReader(file)) {
            line = in.readLine();
        }
        if (line == null || line.isBlank()) {
            throw new IOException(file + " is empty");
        }
        String[] fields = line.trim().split("\\s+");
        int[] values = new int[fields.length];
        try {
            for (int i = 0; i < fields.length; i++) {
                values[i] = Integer.parseInt(fields[i]);
            }
        } catch (NumberFormatException e) {
            throw new IOException(file + ": not integers: " + line, e);
        }
        return values;
    }
}
