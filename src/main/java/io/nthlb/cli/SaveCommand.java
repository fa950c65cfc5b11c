package io.nthlb.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code nthlb save}: not built yet; the issue that owns it replaces this class. */
@Command(name = "save", mixinStandardHelpOptions = true, description = "(not built yet)")
public final class SaveCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("nthlb save: not built yet");
        return 1;
    }
}
