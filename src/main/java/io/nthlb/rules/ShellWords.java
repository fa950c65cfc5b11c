package io.nthlb.rules;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a command into words the way bash does for a plain command: blanks separate words, single quotes
 * are literal, double quotes allow {@code \"}, {@code \\}, {@code \$} and {@code \`}, a backslash outside
 * single quotes escapes the next character, an unquoted {@code #} at the start of a word ends the line, and
 * a backslash that ends a line (outside single quotes and comments) joins the next line on with nothing
 * between. A quote must close on its own line.
 */
final class ShellWords {
    private final List<String> words = new ArrayList<>();
    private final StringBuilder word = new StringBuilder();
    private final long maxChars;
    private long chars;
    private boolean inWord;
    private boolean inDoubleQuotes;
    private boolean tooLong;

    /** A command of at most {@code maxChars} characters, counting one separator per word. */
    ShellWords(long maxChars) {
        this.maxChars = maxChars;
    }

    /** Thrown for text a shell would also refuse, such as an unterminated quote. */
    static final class QuotingException extends Exception {
        private static final long serialVersionUID = 1L;

        QuotingException(String message) {
            super(message);
        }
    }

    /** The words of one line, where a backslash at the end joins nothing on. */
    static List<String> split(String line) throws QuotingException {
        ShellWords words = new ShellWords(Long.MAX_VALUE);
        if (words.feed(line)) {
            if (words.inDoubleQuotes) {
                throw new QuotingException("unterminated quoted string");
            }
            words.inWord = true;
        }
        return words.finish();
    }

    /**
     * Reads one line of the command; true when it ends in a backslash that continues the command on the
     * next line. Linear in the line's length, whatever came before.
     */
    boolean feed(String line) throws QuotingException {
        int i = 0;
        int n = line.length();
        if (inDoubleQuotes) {
            i = doubleQuoted(line, 0);
            if (inDoubleQuotes) {
                return true;
            }
        }
        while (i < n) {
            char c = line.charAt(i);
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                endWord();
                i++;
            } else if (c == '#' && !inWord) {
                return false;
            } else if (c == '\'') {
                int end = line.indexOf('\'', i + 1);
                if (end < 0) {
                    throw new QuotingException("unterminated quoted string");
                }
                append(line, i + 1, end);
                inWord = true;
                i = end + 1;
            } else if (c == '"') {
                inDoubleQuotes = true;
                inWord = true;
                i = doubleQuoted(line, i + 1);
                if (inDoubleQuotes) {
                    return true;
                }
            } else if (c == '\\') {
                if (i + 1 == n) {
                    return true;
                }
                append(line, i + 1, i + 2);
                inWord = true;
                i += 2;
            } else {
                append(line, i, i + 1);
                inWord = true;
                i++;
            }
        }
        return false;
    }

    /** Reads a double-quoted string from {@code i} on; leaves {@code inDoubleQuotes} set at a continuation. */
    private int doubleQuoted(String line, int i) throws QuotingException {
        int n = line.length();
        while (i < n) {
            char d = line.charAt(i);
            if (d == '"') {
                inDoubleQuotes = false;
                return i + 1;
            }
            if (d == '\\' && i + 1 == n) {
                return n;
            }
            if (d == '\\' && "\"\\$`".indexOf(line.charAt(i + 1)) >= 0) {
                append(line, i + 1, i + 2);
                i += 2;
            } else {
                append(line, i, i + 1);
                i++;
            }
        }
        throw new QuotingException("unterminated quoted string");
    }

    private void append(String line, int from, int to) {
        chars += to - from;
        if (chars > maxChars) {
            tooLong = true;
        } else {
            word.append(line, from, to);
        }
    }

    private void endWord() {
        if (inWord) {
            chars++;
            if (chars > maxChars) {
                tooLong = true;
            } else {
                words.add(word.toString());
            }
            word.setLength(0);
            inWord = false;
        }
    }

    /** Whether the command grew past its bound; its words are then incomplete. */
    boolean tooLong() {
        return tooLong;
    }

    /** The command's words, once its last line is in. */
    List<String> finish() {
        endWord();
        return words;
    }
}
