package io.pcache.example;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.MediaProvider;
import io.pcache.api.media.PersistenceDomain;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The mem-specific behaviour; the generic CacheMedia contract is in {@link MemCacheMediaConformanceTest}. */
class MemMediaProviderTest {

  /** Unique names per test, since named memories live as long as the JVM. */
  private static final AtomicInteger NAMES = new AtomicInteger();

  private final MemMediaProvider provider = new MemMediaProvider();

  private static String uniqueName() {
    return "t" + NAMES.incrementAndGet();
  }

  @Test
  void isFoundThroughServiceLoader() {
    Module self = getClass().getModule();
    self.addUses(MediaProvider.class);
    assertTrue(ServiceLoader.load(MediaProvider.class).stream()
        .anyMatch(p -> p.type() == MemMediaProvider.class && p.get().name().equals("mem")));
  }

  @ParameterizedTest(name = "{0} -> {1} bytes")
  @CsvSource({
      "4096, 4096",
      "1, 1",
      "8B, 8",
      "512K, 524288",
      "512k, 524288",
      "64M, 67108864",
      "1G, 1073741824",
      "1GiB, 1073741824",
      "2MB, 2097152",
      "2T, 2199023255552",
      "' 8K ', 8192",
      "8388607T, 9223370937343148032",
  })
  void parsesSizes(String text, long expected) throws IOException {
    assertEquals(expected, SizeText.parse("mem:" + text, text));
  }

  @Test
  void sizeComesFromTheLocation() throws IOException {
    try (CacheMedia m = provider.open("96K", MediaOptions.existing())) {
      assertEquals(96 * 1024, m.size());
    }
    try (CacheMedia m = provider.open(uniqueName() + ":8K", MediaOptions.existing())) {
      assertEquals(8192, m.size());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "G", "1X", "-1", "0", "1.5G", "12 34", "99999999999999999999", "8388608T", "9000000000000T", "n:", "n:bad"})
  void badSizesAreIOExceptions(String location) {
    IOException e = assertThrows(IOException.class, () -> provider.open(location, MediaOptions.existing()));
    assertTrue(e.getMessage().startsWith("mem:" + location + ": "), e.getMessage());
    assertTrue(e.getMessage().contains("size"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"a/b:1M", "x y:1M", ":1M", "a:b:1M"})
  void badNamesAreIOExceptions(String location) {
    IOException e = assertThrows(IOException.class, () -> provider.open(location, MediaOptions.existing()));
    assertTrue(e.getMessage().startsWith("mem:" + location + ": "), e.getMessage());
  }

  @Test
  void describesItself() throws IOException {
    assertEquals("mem", provider.name());
    assertEquals(0, provider.probe("/dev/dax0.0"));
    assertEquals(0, provider.probe("1G"));
    assertTrue(provider.configKeys().isEmpty());
    try (CacheMedia m = provider.open("64K", MediaOptions.create(65536))) {
      assertEquals("mem:64K", m.name());
      assertEquals(PersistenceDomain.VOLATILE, m.persistenceDomain());
      assertEquals(65536, m.mapping().byteSize());
      assertEquals(0, m.mapping().address() % MemMediaProvider.ALIGNMENT, "page aligned");
    }
  }

  @Test
  void createSizeMustMatchTheSpec() {
    IOException e = assertThrows(IOException.class, () -> provider.open("1M", MediaOptions.create(2 << 20)));
    assertTrue(e.getMessage().contains("2097152") && e.getMessage().contains("1048576"), e.getMessage());
  }

  @Test
  void anonymousMemoryIsFreshEveryTime() throws IOException {
    try (CacheMedia a = provider.open("4K", MediaOptions.existing())) {
      a.write(0, MemorySegment.ofArray(new byte[] {42}));
    }
    try (CacheMedia b = provider.open("4K", MediaOptions.existing())) {
      byte[] one = new byte[1];
      b.read(0, MemorySegment.ofArray(one));
      assertEquals(0, one[0]);
    }
  }

  @Test
  void namedMemorySurvivesCloseAndReopen() throws IOException {
    String name = uniqueName();
    byte[] data = {1, 2, 3, 4, 5, 6, 7, 8};
    try (CacheMedia m = provider.open(name + ":1M", MediaOptions.existing())) {
      m.write(1000, MemorySegment.ofArray(data));
      m.persist(1000, data.length);
    }
    try (CacheMedia m = provider.open(name + ":1M", MediaOptions.create(1 << 20))) {
      byte[] back = new byte[8];
      m.read(1000, MemorySegment.ofArray(back));
      assertArrayEquals(data, back);
      assertEquals(5, m.mapping().get(ValueLayout.JAVA_BYTE, 1004));
    }
    try (CacheMedia other = provider.open(uniqueName() + ":1M", MediaOptions.existing())) {
      assertEquals(0, other.mapping().get(ValueLayout.JAVA_BYTE, 1000), "another name is other memory");
    }
  }

  @Test
  void namedMemoryIsOpenOnceAtATimeAndItsOldViewsDieOnClose() throws IOException {
    String name = uniqueName();
    CacheMedia first = provider.open(name + ":64K", MediaOptions.existing());
    first.write(5, MemorySegment.ofArray(new byte[] {7}));
    MemorySegment oldView = first.mapping();
    IOException e = assertThrows(IOException.class, () -> provider.open(name + ":64K", MediaOptions.inspect()));
    assertTrue(e.getMessage().contains("already open"), e.getMessage());
    first.close();
    assertThrows(IllegalStateException.class, () -> oldView.get(ValueLayout.JAVA_BYTE, 5));
    try (CacheMedia second = provider.open(name + ":64K", MediaOptions.existing())) {
      assertEquals(7, second.mapping().get(ValueLayout.JAVA_BYTE, 5));
    }
  }

  @Test
  void forgottenMemoryIsFreedAndComesBackZeroed() throws IOException {
    String name = uniqueName();
    CacheMedia open = provider.open(name + ":64K", MediaOptions.existing());
    open.write(0, MemorySegment.ofArray(new byte[] {1}));
    MemMediaProvider.forget(name);
    assertEquals(1, open.mapping().get(ValueLayout.JAVA_BYTE, 0), "still usable until closed");
    MemorySegment view = open.mapping();
    open.close();
    assertThrows(IllegalStateException.class, () -> view.get(ValueLayout.JAVA_BYTE, 0));
    try (CacheMedia fresh = provider.open(name + ":128K", MediaOptions.existing())) {
      assertEquals(0, fresh.mapping().get(ValueLayout.JAVA_BYTE, 0));
      assertEquals(128 * 1024, fresh.size());
    }
    MemMediaProvider.forget(name);
  }

  @Test
  void namedMemoryKeepsItsSize() throws IOException {
    String name = uniqueName();
    provider.open(name + ":1M", MediaOptions.existing()).close();
    IOException e = assertThrows(IOException.class, () -> provider.open(name + ":2M", MediaOptions.existing()));
    assertTrue(e.getMessage().contains("'" + name + "'") && e.getMessage().contains("1048576"), e.getMessage());
  }

  @Test
  void readOnlyRefusesWrites() throws IOException {
    String name = uniqueName();
    try (CacheMedia rw = provider.open(name + ":8K", MediaOptions.existing())) {
      rw.write(0, MemorySegment.ofArray(new byte[] {9}));
    }
    try (CacheMedia ro = provider.open(name + ":8K", MediaOptions.inspect())) {
      UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
          () -> ro.write(0, MemorySegment.ofArray(new byte[1])));
      assertTrue(e.getMessage().contains("mem:" + name + ":8K"), e.getMessage());
      assertTrue(ro.mapping().isReadOnly());
      assertEquals(9, ro.mapping().get(ValueLayout.JAVA_BYTE, 0));
    }
  }

  @Test
  void boundsErrorsNameMediaOffsetAndLength() throws IOException {
    try (CacheMedia m = provider.open("4K", MediaOptions.existing())) {
      IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
          () -> m.write(4095, MemorySegment.ofArray(new byte[2])));
      assertTrue(e.getMessage().contains("mem:4K") && e.getMessage().contains("4095")
          && e.getMessage().contains("length 2"), e.getMessage());
      byte[] one = new byte[1];
      m.read(4095, MemorySegment.ofArray(one));
      assertEquals(0, one[0], "the refused write changed nothing");
      assertThrows(IndexOutOfBoundsException.class, () -> m.read(-1, MemorySegment.ofArray(one)));
      assertThrows(IndexOutOfBoundsException.class, () -> m.persist(0, 4097));
      assertThrows(IndexOutOfBoundsException.class, () -> m.persist(10, -1));
      m.persist(4096, 0);
    }
  }

  @Test
  void closedMediaRefusesEverythingAndFreesAnonymousMemory() throws IOException {
    CacheMedia m = provider.open("4K", MediaOptions.existing());
    MemorySegment view = m.mapping();
    m.close();
    m.close();
    byte[] one = new byte[1];
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.read(0, MemorySegment.ofArray(one)));
    assertTrue(e.getMessage().contains("mem:4K"), e.getMessage());
    assertThrows(IllegalStateException.class, () -> m.write(0, MemorySegment.ofArray(one)));
    assertThrows(IllegalStateException.class, () -> m.persist(0, 1));
    assertThrows(IllegalStateException.class, m::mapping);
    assertThrows(IllegalStateException.class, m::size);
    assertThrows(IllegalStateException.class, m::persistenceDomain);
    assertThrows(IllegalStateException.class, () -> view.get(ValueLayout.JAVA_BYTE, 0), "arena freed");
    assertNotEquals(null, m.name());
  }
}
