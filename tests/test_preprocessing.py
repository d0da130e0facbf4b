import numpy as np
import pytest
from scipy import ndimage

from core.data.preprocessing import Deskew, augment_rotations, augment_shifts, deskew, deskew_memoized, scale_pixels


def _reference_deskew(image: np.ndarray) -> np.ndarray:
    """The textbook per-image version: shear by cov/var about the centre of mass."""
    c0, c1 = ndimage.center_of_mass(image)
    r, c = np.mgrid[:28, :28]
    total = image.sum()
    alpha = ((r - c0) * (c - c1) * image).sum() / total / (((r - c0) ** 2 * image).sum() / total)
    affine = np.array([[1, 0], [alpha, 1]])
    offset = np.array([c0, c1]) - affine @ np.array([14, 14])
    return ndimage.affine_transform(image, affine, offset=offset, order=1)


def test_deskew_matches_per_image_affine_transform(sample_data):
    X = sample_data.X_train[:20]
    out = deskew(X)
    assert out.shape == (20, 784) and out.dtype == np.float32
    for i in range(20):
        ref = _reference_deskew(X[i].reshape(28, 28).astype(np.float64))
        np.testing.assert_allclose(out[i], ref.ravel(), atol=1e-3)


def test_deskew_straightens_a_slanted_stroke():
    img = np.zeros((28, 28), np.uint8)
    for row in range(4, 24):  # a "1" leaning right: column moves left as row grows
        col = 20 - (row - 4) // 2
        img[row, col - 1 : col + 2] = 255
    out = deskew(img.reshape(1, -1)).reshape(28, 28)
    cols = [np.average(np.arange(28), weights=out[r]) for r in range(6, 22) if out[r].sum() > 0]
    assert np.ptp(cols) < 2.0  # upright after deskewing (was ~8 columns of lean)
    assert abs(ndimage.center_of_mass(out)[1] - 14) < 1


def test_deskew_blank_and_bad_shape():
    assert deskew(np.zeros((2, 784), np.uint8)).sum() == 0
    with pytest.raises(ValueError, match=r"\(n, 784\)"):
        deskew(np.zeros((3, 28, 28)))


def test_memoized_deskew_returns_same_values(sample_data):
    X = sample_data.X_train[:1500]
    first = deskew_memoized(X)
    assert deskew_memoized(X.copy()) is first  # hit by content, not identity
    np.testing.assert_array_equal(first, deskew(X))
    assert not first.flags.writeable


def test_deskew_transformer_in_pipeline(sample_data):
    out = Deskew().fit(sample_data.X_train[:5]).transform(sample_data.X_train[:5])
    assert out.shape == (5, 784)


def test_scale_pixels():
    out = scale_pixels(np.array([[0, 255, 51]], np.uint8))
    np.testing.assert_allclose(out, [[0, 1, 0.2]], rtol=1e-6)
    assert out.dtype == np.float32


def test_augment_shifts_moves_ink_one_pixel(sample_data):
    X, y = sample_data.X_train[:3], sample_data.y_train[:3]
    X_aug, y_aug = augment_shifts(X, y)
    assert X_aug.shape == (15, 784) and X_aug.dtype == np.uint8
    np.testing.assert_array_equal(y_aug, np.tile(y, 5))
    np.testing.assert_array_equal(X_aug[:3], X)
    down = X_aug[3:6].reshape(-1, 28, 28)
    np.testing.assert_array_equal(down[:, 1:, :], X.reshape(-1, 28, 28)[:, :-1, :])
    for k in range(1, 5):
        com = np.array(ndimage.center_of_mass(X_aug[3 * k].reshape(28, 28)))
        orig = np.array(ndimage.center_of_mass(X[0].reshape(28, 28)))
        assert np.isclose(np.abs(com - orig).sum(), 1.0, atol=0.05)


def test_augment_rotations(sample_data):
    X, y = sample_data.X_train[:4], sample_data.y_train[:4]
    X_aug, y_aug = augment_rotations(X, y, degrees=10)
    assert X_aug.shape == (12, 784) and X_aug.dtype == np.uint8 and len(y_aug) == 12
    assert not np.array_equal(X_aug[4], X[0])
    assert abs(int(X_aug[4].astype(int).sum()) - int(X[0].astype(int).sum())) < 0.1 * X[0].sum()


def test_augmented_fits_on_shifted_copies_of_deskewed_digits(sample_data):
    from sklearn.neighbors import KNeighborsClassifier

    from core.data.preprocessing import Augmented, augment
    from core.models.catalog import build_pipeline

    X, y = sample_data.X_train[:300], sample_data.y_train[:300]
    pipe = build_pipeline("knn", augment="shifts").fit(X, y)
    aug = pipe[-1]
    assert isinstance(aug, Augmented) and aug.n_train_ == 1500
    assert hasattr(pipe, "predict_proba") and pipe.predict(X[:5]).shape == (5,)
    # the copies are shifted after deskewing: deskewing shifted raw digits would re-centre them
    D = deskew(X) / 255
    D_aug, _ = augment(D, y, kind="shifts")
    assert np.abs(D_aug[300:600] - D).mean() > 0.01
    recentred = deskew(augment_shifts(X, y)[0][300:600]) / 255
    assert np.abs(recentred - D).mean() < np.abs(D_aug[300:600] - D).mean() / 2
    knn = KNeighborsClassifier(1).fit(D_aug, np.tile(y, 5))
    np.testing.assert_array_equal(knn.predict(D_aug[300:600]), y)
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        augment(D, y, kind="flip")
