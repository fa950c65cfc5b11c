package io.nthlb.rules;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The physical lines of a rules file, read from its bytes one at a time: each is decoded as strict UTF-8,
 * and one longer than a bound is skipped rather than held, so that reading costs time linear in the file
 * and memory bounded by the longest line kept.
 */
final class SourceLines {
    /** One line: its 1-based number and its text, or the reason it cannot be read (then text is null). */
    record Line(int number, String text, String problem) {
    }

    private final InputStream in;
    private final int maxBytes;
    private final String tooLong;
    private final byte[] chunk = new byte[64 * 1024];
    private int chunkPos;
    private int chunkEnd;
    private byte[] line = new byte[256];
    private int number;
    private boolean ended;
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

    /**
     * Reads lines from {@code in}; a line of more than {@code maxBytes} bytes (without its newline) is given
     * as the problem {@code tooLong}.
     */
    SourceLines(InputStream in, int maxBytes, String tooLong) {
        this.in = in;
        this.maxBytes = maxBytes;
        this.tooLong = tooLong;
    }

    /** The next line, or {@code null} after the last; as with {@code split("\n", -1)}, text ending in a newline ends in an empty line. */
    Line next() throws IOException {
        if (ended) {
            return null;
        }
        int length = 0;
        boolean overlong = false;
        while (true) {
            if (chunkPos == chunkEnd) {
                chunkEnd = in.read(chunk);
                chunkPos = 0;
                if (chunkEnd <= 0) {
                    chunkEnd = 0;
                    ended = true;
                    break;
                }
            }
            int start = chunkPos;
            int end = start;
            while (end < chunkEnd && chunk[end] != '\n') {
                end++;
            }
            int take = end - start;
            if (!overlong && length + take > maxBytes) {
                overlong = true;
            }
            if (!overlong) {
                if (line.length < length + take) {
                    line = Arrays.copyOf(line, Math.min(Math.max(line.length * 2, length + take), maxBytes));
                }
                System.arraycopy(chunk, start, line, length, take);
                length += take;
            }
            chunkPos = end;
            if (end < chunkEnd) {
                chunkPos++;
                break;
            }
        }
        number++;
        if (overlong) {
            return new Line(number, null, tooLong);
        }
        return decode(length);
    }

    private Line decode(int length) {
        for (int i = 0; i < length; i++) {
            if (line[i] == 0) {
                return new Line(number, null, "nthlb: NUL byte at column " + (i + 1)
                        + " (no command or rule can hold one)");
            }
        }
        ByteBuffer bytes = ByteBuffer.wrap(line, 0, length);
        CharBuffer chars = CharBuffer.allocate(length);
        decoder.reset();
        CoderResult result = decoder.decode(bytes, chars, true);
        if (result.isError()) {
            int at = bytes.position();
            return new Line(number, null, "nthlb: invalid UTF-8 (byte 0x"
                    + Integer.toHexString(line[at] & 0xFF) + " at column " + (at + 1) + ")");
        }
        decoder.flush(chars);
        return new Line(number, chars.flip().toString(), null);
    }
}
