#!/bin/sh
# tests/board_caption.sh MODEL.gguf ADAPTER.gguf|- PICTURE.ppm [WORKDIR]
#
# Captions PICTURE on the Cortex-M55 board (MPS3 AN547 under
# qemu-system-arm) with the model and adapter read in place from its QSPI
# flash (8 MiB at 0x28000000), and on this machine with the same program
# (tests/board/board_caption.c); passes when both print the same caption.
# Code runs from the 512 KiB ITCM, the arena (.bss) lives in DDR.  "-" as the
# adapter: the base model alone.  Needs arm-none-eabi-gcc with picolibc and
# qemu-system-arm (README, "Supported targets").
set -eu
cd "$(dirname "$0")/.."
MODEL=$1
ADAPTER=$2
PICTURE=$3
W=${4:-build/board_caption}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
mkdir -p "$W"
make -s build/vla-embed
[ -s "$MODEL" ] || { echo "board_caption: $MODEL does not exist"; exit 1; }
[ -s "$PICTURE" ] || { echo "board_caption: $PICTURE does not exist"; exit 1; }
cp "$MODEL" "$W/model.gguf"
cp "$PICTURE" "$W/picture.ppm"
if [ "$ADAPTER" = - ]; then printf -- '-' > "$W/adapter.gguf"; RAW=--raw; else cp "$ADAPTER" "$W/adapter.gguf"; RAW=; fi
# the .S files name the data files relative to the directory the assembler runs in
(
    cd "$W"
    ../vla-embed --asm --section .qspi model.gguf model.S vla_bc_model
    # shellcheck disable=SC2086
    ../vla-embed --asm $RAW --section .qspi adapter.gguf adapter.S vla_bc_adapter
    ../vla-embed --asm --raw --section .qspi picture.ppm picture.S vla_bc_picture
    cc -std=c99 -O2 -Wall -Wextra -pedantic -Werror -I../.. ../../tests/board/board_caption.c model.S adapter.S picture.S -lm -o host_caption
    arm-none-eabi-gcc -std=c99 -Os -Wall -Wextra -pedantic -mcpu=cortex-m55 -mthumb -mfloat-abi=hard \
        --specs=picolibc.specs --oslib=semihost --crt0=semihost -DVLA_BOARD_BAREMETAL=1 -ffunction-sections -fdata-sections \
        -DBC_ARENA_BYTES='(12u << 20)' -I../.. ../../tests/board/board_caption.c model.S adapter.S picture.S \
        -Wl,--defsym=__flash=0x0,--defsym=__flash_size=0x80000,--defsym=__ram=0x60000000,--defsym=__ram_size=0x1000000 \
        -Wl,--defsym=__stack_size=0x10000 -Wl,--gc-sections -Wl,--section-start=.qspi=0x28000000 -Wl,--no-warn-execstack \
        -lm -o m55_caption.elf
)
QSPI=$(arm-none-eabi-size -A "$W/m55_caption.elf" | awk '$1 == ".qspi" { print $2 }')
TEXT=$(arm-none-eabi-size -A "$W/m55_caption.elf" | awk '$1 == ".text" { print $2 }')
if [ "$QSPI" -gt 8388608 ]; then echo "board_caption: $QSPI bytes do not fit the 8 MiB QSPI flash"; exit 1; fi
"$W/host_caption" > "$W/host.txt"
T0=$(date +%s)
timeout -k 5 "$RUN_TIMEOUT" qemu-system-arm -M mps3-an547 -display none -monitor none -serial none \
    -chardev stdio,id=bc -semihosting-config enable=on,target=native,chardev=bc -kernel "$W/m55_caption.elf" \
    < /dev/null > "$W/m55.txt" 2>&1 || { echo "board_caption: the M55 run failed:"; cat "$W/m55.txt"; exit 1; }
T1=$(date +%s)
H=$(grep '^caption: ' "$W/host.txt" || true)
M=$(grep '^caption: ' "$W/m55.txt" || true)
echo "host: $H"
echo "m55:  $M  ($((T1 - T0)) s under QEMU; code $TEXT bytes in ITCM, $QSPI bytes in QSPI flash)"
grep '^board_caption: bare-metal' "$W/m55.txt" || true
if [ -n "$H" ] && [ "$H" = "$M" ]; then echo "ok   - m55 caption from flash = host caption"; exit 0; fi
echo "FAIL - m55 caption from flash differs from the host's"
exit 1
