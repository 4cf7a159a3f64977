package io.pcache.core.inject;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingOptions;
import io.pcache.api.backing.BackingProvider;
import io.pcache.core.config.ConfigSchema;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.config.LayeredConfig;
import io.pcache.core.logging.LogCapture;
import io.pcache.core.plugin.PluginRegistry;
import io.pcache.core.plugin.ProviderEntry;
import io.pcache.core.plugin.ProviderKind;
import io.pcache.testkit.MemoryBacking;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which missing backing images {@link Devices#openBacking} creates: the default one and those
 * given a size; a mistyped path is an error that says how to proceed.
 */
class DevicesBackingTest {

  /**
   * The block plugin's contract on files: a missing file is created sparse with the create size,
   * or refused with {@link NoSuchFileException} when there is none.
   */
  static final class FileProvider implements BackingProvider {
    final List<BackingOptions> opened = new ArrayList<>();

    @Override
    public String name() {
      return "file";
    }

    @Override
    public String description() {
      return "image files, for tests";
    }

    @Override
    public BackingDevice open(String location, BackingOptions options) throws IOException {
      opened.add(options);
      Path path = Path.of(location);
      if (Files.notExists(path)) {
        if (options.createSize() == 0) {
          throw new NoSuchFileException("file:" + location, null, "does not exist");
        }
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
          f.setLength(options.createSize());
        }
      }
      return MemoryBacking.allocate("file:" + location, 1 << 20);
    }
  }

  @TempDir Path home;
  private final FileProvider provider = new FileProvider();
  @RegisterExtension
  final LogCapture log = new LogCapture("io.pcache");
  private final List<LogRecord> logged = log.records;


  private Devices devices(Map<String, String> flags) {
    LayeredConfig config = LayeredConfig.load(new ConfigSchema().add("pcache-core", CoreKeys.all()), home,
        Optional.empty(), Map.of(), flags, home);
    PluginRegistry registry = PluginRegistry.of(List.of(new ProviderEntry(ProviderKind.BACKING, provider,
        "io.pcache.test", "lib/")));
    return new Devices(registry, config);
  }

  private List<String> infoLines() {
    synchronized (logged) {
      return logged.stream().filter(r -> r.getLevel() == Level.INFO).map(LogRecord::getMessage).toList();
    }
  }

  @Test
  void theDefaultImageIsCreatedAndLogged() throws Exception {
    Path image = home.resolve("data/backing.img");
    try (BackingDevice device = devices(Map.of()).openBacking(true, false)) {
      assertEquals("file:" + image, device.name());
    }
    assertEquals(4L << 30, Files.size(image));
    assertEquals(List.of("created the backing image " + image + ": 4G (4294967296 bytes), sparse"), infoLines());
  }

  @Test
  void anotherMissingPathIsRefusedWithWhatToDo() {
    Path typo = home.resolve("bakcing.img");
    RuntimeException e = assertThrows(io.pcache.core.config.ConfigException.class,
        () -> devices(Map.of(CoreKeys.BACKING_DEVICE, "file:" + typo)).openBacking(true, false));
    assertEquals("backing device file:" + typo + " does not exist: check the path, or give its size (for example"
        + " --backing.size 8G) to create a sparse image file there", e.getMessage());
    assertFalse(Files.exists(typo));
    assertEquals(0, provider.opened.getLast().createSize(), "asked the provider to create it");
    assertEquals(List.of(), infoLines());
  }

  @Test
  void anotherMissingPathWithAnExplicitSizeIsCreated() throws Exception {
    Path image = home.resolve("disks/vm.img");
    Files.createDirectories(image.getParent());
    devices(Map.of(CoreKeys.BACKING_DEVICE, "file:" + image, CoreKeys.BACKING_SIZE, "8M")).openBacking(true, false).close();
    assertEquals(8L << 20, Files.size(image));
    assertEquals(List.of("created the backing image " + image + ": 8M (8388608 bytes), sparse"), infoLines());
  }

  @Test
  void anExistingImageOpensWithoutCreatingOrLogging() throws Exception {
    Path image = home.resolve("disk.img");
    Files.write(image, new byte[4096]);
    devices(Map.of(CoreKeys.BACKING_DEVICE, "file:" + image)).openBacking(true, false).close();
    devices(Map.of(CoreKeys.BACKING_DEVICE, "file:" + image, CoreKeys.BACKING_SIZE, "8M")).openBacking(true, false).close();
    assertEquals(4096, Files.size(image));
    assertEquals(List.of(), infoLines());
  }

  @Test
  void withoutCreateNothingIsCreatedEvenTheDefault() {
    RuntimeException e = assertThrows(io.pcache.core.config.ConfigException.class, () -> devices(Map.of()).openBacking(false, false));
    assertEquals("backing device file:" + home.resolve("data/backing.img") + " does not exist: check the path",
        e.getMessage());
    assertFalse(Files.exists(home.resolve("data/backing.img")));
    assertTrue(provider.opened.stream().allMatch(o -> o.createSize() == 0), provider.opened.toString());
  }
}
