"""Data: local datasets in their own formats, method augmentation recipes, search splits.

Uses torchvision (datasets.ImageFolder, transforms.v2); only `--download` fetches anything.
"""
from nasiam.data.batched_augment import BatchedViews
from nasiam.data.datasets import (
    FASHION_MNIST_DEBIAN_ROOT,
    ArrayImageDataset,
    DataNotFoundError,
    DatasetInfo,
    SyntheticImages,
    create_dataset,
    dataset_info,
    default_root,
    image_folder_classes,
    list_datasets,
)
from nasiam.data.device import DeviceImages, DeviceViewSet, device_loader
from nasiam.data.split import class_balanced_subset, random_subset, search_split
from nasiam.data.transforms import AugmentRecipe, MultiViewTransform, augment_recipe, eval_transform, view_transform

__all__ = ["ArrayImageDataset", "DataNotFoundError", "DatasetInfo", "FASHION_MNIST_DEBIAN_ROOT", "SyntheticImages",
           "create_dataset", "dataset_info", "default_root", "image_folder_classes", "list_datasets",
           "class_balanced_subset",
           "random_subset", "search_split", "AugmentRecipe", "MultiViewTransform", "augment_recipe",
           "eval_transform", "view_transform", "BatchedViews", "DeviceImages", "DeviceViewSet", "device_loader"]
