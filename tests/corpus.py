"""The bad-file corpus shared by the data layer's and prediction's tests: every kind of broken input issue 3 lists,
next to good images with awkward file names."""
import shutil, struct, zlib
from pathlib import Path

import numpy as np
from PIL import Image

def _png_header_only(w, h):
    chunk = lambda k, d: struct.pack('>I', len(d)) + k + d + struct.pack('>I', zlib.crc32(k + d))
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) + chunk(b'IEND', b'')

def _dicom(path, arr=None, syntax=None, fragment=None):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    meta = FileMetaDataset(); meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.1.1'
    meta.MediaStorageSOPInstanceUID = generate_uid(); meta.TransferSyntaxUID = syntax or ExplicitVRLittleEndian
    ds = Dataset(); ds.file_meta = meta; ds.SOPClassUID = meta.MediaStorageSOPClassUID; ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = 'X1'; ds.Modality = 'DX'
    if arr is not None:
        ds.Rows, ds.Columns = arr.shape; ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = 'MONOCHROME2'
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = encapsulate([fragment]) if fragment is not None else arr.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)

def bad_corpus(synthetic, d):
    """Under folder `d` (class folders Normal, Scoliosis, and an empty Extra): 16 good images from the synthetic dataset
    `synthetic` (some named with commas, spaces, brackets and non-ASCII characters), a truncated JPEG, a zero-byte file,
    a text file named .png, a PNG too large to decode safely, a DICOM without pixel data and a DICOM in a compressed
    syntax with no decoder. Returns (good source files, {bad file name: the reason its error must contain})."""
    from pydicom.uid import JPEGLosslessSV1
    d = Path(d)
    good = sorted(Path(synthetic).glob('Normal/*.png'))[:8] + sorted(Path(synthetic).glob('Scoliosis/*.png'))[:8]
    for k, f in enumerate(good):
        name = [f.name, f'scan, AP {k}.png', f'film {k} (copy).png', f'Röntgen_脊柱_{k}.png'][k % 4]
        (d / f.parent.name).mkdir(parents=True, exist_ok=True); shutil.copy(f, d / f.parent.name / name)
    (d / 'Extra').mkdir()
    jpg = d / 'Normal' / 'truncated.jpg'; Image.open(good[0]).save(jpg, quality=90); jpg.write_bytes(jpg.read_bytes()[:2000])
    (d / 'Normal' / 'empty.png').write_bytes(b'')
    (d / 'Normal' / 'notes.png').write_text('not an image at all\n')
    (d / 'Scoliosis' / 'huge.png').write_bytes(_png_header_only(50000, 50000))
    _dicom(d / 'Scoliosis' / 'no_pixels.dcm')
    _dicom(d / 'Scoliosis' / 'lossless.dcm', np.zeros((64, 32)), JPEGLosslessSV1, b'\xff\xd8\xff\xc3' + b'\x00' * 32)
    expect = {'truncated.jpg': 'truncated', 'empty.png': 'empty file (0 bytes)', 'notes.png': 'not a PNG file: it holds text',
              'huge.png': 'too large to decode safely', 'no_pixels.dcm': 'DICOM file without pixel data',
              'lossless.dcm': 'no decoder for it is installed; install one of'}
    return good, expect
